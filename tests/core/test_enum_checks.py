"""Enum columns refuse values outside their enum in the database itself (migrations 0018 and 0019)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.alerts import AlertKind
from core.models.study import ParticipantStatus
from tests import factories
from tests.core.rules.diary_rows import create_alert, new_row


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("participant", "status", "lost"),
        ("participant", "sex", "x"),
        ("alert", "severity", "high"),
        ("alert", "status", "closed"),
        ("user_account", "role", "superuser"),
        ("alert", "kind", "hypoglycemia"),
        ("diary_entry", "kind", "blood_pressure"),
        ("diary_entry", "recorded_by_role", "nurse"),
    ],
)
async def test_a_value_outside_the_enum_is_refused_by_the_database(
    session: AsyncSession, table: str, column: str, value: str
) -> None:
    study = await factories.create_study(session)
    participant = await factories.create_participant(session, study)
    alert = await create_alert(session, participant)
    entry = await new_row(session, participant, "meal", datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    row_id = {
        "participant": participant.id,
        "alert": alert.id,
        "user_account": participant.user_id,
        "diary_entry": entry.id,
    }[table]
    with pytest.raises(exc.DBAPIError):
        async with session.begin_nested():
            await session.execute(
                text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),  # noqa: S608 (names from the list above)
                {"v": value, "id": row_id},
            )


async def test_values_come_back_as_the_enum(session: AsyncSession) -> None:
    participant = await factories.create_participant(session, await factories.create_study(session))
    alert = await create_alert(session, participant, kind="ketones_high", category="safety")
    await session.refresh(participant)
    await session.refresh(alert)
    assert participant.status is ParticipantStatus.enrolled
    assert alert.kind is AlertKind.ketones_high
