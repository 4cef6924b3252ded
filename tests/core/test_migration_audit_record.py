"""Migration 0022_audit_record loses nothing: every version's audit record survives the column's rename, and a
downgrade gives each entry back the stored answer it had (its latest version's record)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from alembic import command
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import migrations
from core.access import Actor
from core.db import build_engine
from core.diary import service as diary_service
from tests import factories as f
from tests.conftest import create_database, drop_database

BEFORE = "0021_more_enum_checks"


def json_value(value: Any) -> Any:
    """A JSON column read with plain SQL: text on both drivers."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def _entry_with_two_versions(url: str) -> uuid.UUID:
    engine = build_engine(url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            study = await f.create_study(session)
            participant = await f.create_participant(session, study)
            actor = Actor.of(await f.participant_user(session, participant))
            state, _ = await diary_service.record_entry(
                session=session, actor=actor, participant=participant, entry_in=f.entry_body(value=62)
            )
            await diary_service.edit_entry(
                session=session,
                actor=actor,
                participant=participant,
                entry_id=state["id"],
                changes={"version": 1, "reason": "typo", "note": "after football"},
            )
            await session.commit()
            return uuid.UUID(str(state["id"]))
    finally:
        await engine.dispose()


async def _rows(url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = build_engine(url)
    try:
        async with engine.connect() as connection:
            statement = text(query).bindparams(bindparam("id", type_=Uuid()))  # as the models store ids
            return [tuple(r) for r in (await connection.execute(statement, params)).all()]
    finally:
        await engine.dispose()


def test_records_survive_and_a_downgrade_restores_each_entrys_answer() -> None:
    url = create_database("audit_record")
    try:
        migrations.upgrade(url)
        entry = asyncio.run(_entry_with_two_versions(url))
        versions = "SELECT version, {column} FROM diary_entry_version WHERE entry_id = :id ORDER BY version"
        records = [
            (v, json_value(r))
            for v, r in asyncio.run(_rows(url, versions.format(column="audit_record"), id=entry))
        ]
        assert [v for v, _ in records] == [1, 2]
        assert records[1][1]["note"] == "after football" and records[1][1]["version"] == 2

        command.downgrade(migrations.alembic_config(url), BEFORE)
        (document,) = asyncio.run(_rows(url, "SELECT document FROM diary_entry WHERE id = :id", id=entry))[0]
        assert json_value(document) == records[1][1]  # the latest version's record, as the old code stored it
        old = [
            (v, json_value(r))
            for v, r in asyncio.run(_rows(url, versions.format(column="snapshot"), id=entry))
        ]
        assert old == records

        migrations.upgrade(url)
        again = [
            (v, json_value(r))
            for v, r in asyncio.run(_rows(url, versions.format(column="audit_record"), id=entry))
        ]
        assert again == records
    finally:
        drop_database(url)
