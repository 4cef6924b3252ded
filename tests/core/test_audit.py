"""The audit trail: who, what, before/after, where from; on PostgreSQL the database itself refuses rewrites."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from tests.conftest import BACKEND


async def test_record_keeps_actor_subject_change_and_origin(session: AsyncSession) -> None:
    actor = uuid.uuid4()
    subject = uuid.uuid4()
    event = await audit.record(
        session=session,
        actor_id=actor,
        action="participant.withdrawn",
        subject_type="participant",
        subject_id=subject,
        before={"status": "enrolled", "participant": subject},
        after={"status": "withdrawn"},
        context=audit.AuditContext(
            client_address="198.51.100.4", user_agent="x" * 500, request_id="req-12345678"
        ),
    )
    await session.refresh(event)
    assert (event.actor_id, event.subject_id) == (actor, str(subject))
    assert event.before == {"status": "enrolled", "participant": str(subject)}  # stored as JSON
    assert event.occurred_at.tzinfo is not None
    assert (event.client_address, event.request_id, len(event.user_agent or "")) == (
        "198.51.100.4",
        "req-12345678",
        300,
    )


async def test_postgres_refuses_to_update_audit_events(session: AsyncSession) -> None:
    if BACKEND != "postgres":
        pytest.skip("the append-only trigger is PostgreSQL's")
    event = await audit.record(
        session=session, actor_id=None, action="auth.login", subject_type="user", subject_id="someone"
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(
                text("UPDATE audit_event SET action = 'nothing' WHERE id = :id"), {"id": event.id}
            )
