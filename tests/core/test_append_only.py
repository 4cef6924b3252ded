"""The database itself refuses to lose what users committed: no deleted entries, versions, alerts or audit rows,
no rewritten audit trail, no rewritten attribution of a version (alembic 0007 on PostgreSQL, 0008 on SQLite)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import Actor
from core.diary import service as diary_service
from core.models.people import Role
from core.models.study import Participant
from tests import factories as f
from tests.conftest import BACKEND


def _sql(statement: str) -> Any:
    # an entry id is stored as each database stores a UUID (SQLite: 32 hex characters)
    return (
        text(statement).bindparams(bindparam("id", type_=Uuid())) if ":id" in statement else text(statement)
    )


async def _refused(session: AsyncSession, statement: str, **params: object) -> str:
    with pytest.raises(DBAPIError) as refused:
        async with session.begin_nested():
            await session.execute(_sql(statement), params)
    return str(refused.value)


async def _allowed(session: AsyncSession, statement: str, **params: object) -> int:
    async with session.begin_nested():
        return (await session.execute(_sql(statement), params)).rowcount  # type: ignore[attr-defined]


async def _entry(session: AsyncSession, participant: Participant, **data: Any) -> uuid.UUID:
    user = await f.participant_user(session, participant)
    state, _ = await diary_service.record_entry(
        session=session, actor=Actor.of(user), participant=participant, entry_in=f.entry_body(**data)
    )
    return state["id"]


async def _audited(session: AsyncSession, participant: Participant) -> None:
    await audit.record(
        session=session,
        actor_id=None,
        action="test.event",
        subject_type="participant",
        subject_id=participant.id,
    )


async def test_entries_versions_alerts_and_audit_rows_are_never_deleted(session: AsyncSession) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    await f.create_staff(session, study, Role.clinician)
    entry = await _entry(session, participant, value=60, unit="mg/dL", context="random")  # a low: an alert
    await _audited(session, participant)
    for table, column in (
        ("diary_entry", "id"),
        ("glucose_reading", "entry_id"),
        ("diary_entry_version", "entry_id"),
        ("alert_entry", "entry_id"),
    ):
        message = await _refused(session, f"DELETE FROM {table} WHERE {column} = :id", id=entry)  # noqa: S608
        assert "append-only" in message and table in message
    assert "append-only" in await _refused(session, "DELETE FROM alert")
    assert "append-only" in await _refused(session, "DELETE FROM audit_event")
    if BACKEND == "postgres":  # SQLite has no TRUNCATE
        assert "append-only" in await _refused(session, "TRUNCATE diary_entry CASCADE")
    # what is still there is all of it
    count = (
        await session.execute(
            _sql("SELECT count(*) FROM diary_entry_version WHERE entry_id = :id"), {"id": entry}
        )
    ).scalar_one()
    assert count == 1


async def test_the_audit_trail_and_version_attribution_are_never_rewritten(session: AsyncSession) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    entry = await _entry(session, participant)
    await _audited(session, participant)
    assert "append-only" in await _refused(session, "UPDATE audit_event SET action = 'nothing.happened'")
    for change in ("reason = 'rewritten'", "changed_by_role = 'admin'", "version = 9", "op = 'edit'"):
        message = await _refused(
            session,
            f"UPDATE diary_entry_version SET {change} WHERE entry_id = :id",  # noqa: S608
            id=entry,
        )
        assert "append-only" in message
    # the create version's audit record may be completed (the rules' flags, in the same request)
    updated = await _allowed(
        session, "UPDATE diary_entry_version SET audit_record = audit_record WHERE entry_id = :id", id=entry
    )
    assert updated == 1
