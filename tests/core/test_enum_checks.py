"""Enum columns refuse values outside their enum in the database itself (migration 0018_enum_checks)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.study import ParticipantStatus
from tests import factories
from tests.core.rules.diary_rows import create_alert


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("participant", "status", "lost"),
        ("participant", "sex", "x"),
        ("alert", "severity", "high"),
        ("alert", "status", "closed"),
        ("user_account", "role", "superuser"),
    ],
)
async def test_a_value_outside_the_enum_is_refused_by_the_database(
    session: AsyncSession, table: str, column: str, value: str
) -> None:
    study = await factories.create_study(session)
    participant = await factories.create_participant(session, study)
    alert = await create_alert(session, participant)
    row_id = {"participant": participant.id, "alert": alert.id, "user_account": participant.user_id}[table]
    with pytest.raises(exc.DBAPIError):
        async with session.begin_nested():
            await session.execute(
                text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),  # noqa: S608 (names from the list above)
                {"v": value, "id": row_id},
            )


async def test_values_come_back_as_the_enum(session: AsyncSession) -> None:
    participant = await factories.create_participant(session, await factories.create_study(session))
    await session.refresh(participant)
    assert participant.status is ParticipantStatus.enrolled
