"""The weight on a day: the latest weighing on or before it (participant-local), else the enrolment weight."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.diary.weights import Weighing, weight_on, weight_on_day, weights_on, weights_on_days
from tests import factories as f
from tests.factories import entries_path, entry_body


def _w(day: int, hour: int, kg: float) -> Weighing:
    return Weighing(date(2026, 3, day), datetime(2026, 3, day, hour, tzinfo=UTC), kg)


def test_the_latest_weighing_on_or_before_the_day_else_the_enrolment_weight() -> None:
    weighings = [_w(10, 7, 61.0), _w(3, 7, 60.2), _w(10, 19, 61.4)]
    assert weight_on(date(2026, 3, 2), weighings, 59.5) == 59.5  # before any weighing: enrolment
    assert weight_on(date(2026, 3, 3), weighings, 59.5) == 60.2  # on the day counts
    assert weight_on(date(2026, 3, 9), weighings, 59.5) == 60.2
    assert weight_on(date(2026, 3, 10), weighings, 59.5) == 61.4  # two that day: the later
    assert weight_on(date(2026, 4, 1), weighings, 59.5) == 61.4
    assert weight_on(date(2026, 3, 1), [], None) is None
    days = [date(2026, 3, d) for d in (2, 3, 9, 10, 31)]
    assert weights_on(days, weighings, 59.5) == {
        date(2026, 3, 2): 59.5,
        date(2026, 3, 3): 60.2,
        date(2026, 3, 9): 60.2,
        date(2026, 3, 10): 61.4,
        date(2026, 3, 31): 61.4,
    }


async def test_weight_entries_reach_the_weight_of_a_day(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    # enrolled 5 January 2026 weighing 60.0 kg (the factory's enrolment weight)
    participant = await f.create_participant(session, study, weight_kg=60.0)
    other = await f.create_participant(session, study, weight_kg=80.0)
    phone = f.auth_headers(await f.participant_user(session, participant))
    other_phone = f.auth_headers(await f.participant_user(session, other))
    # 23:30 on 1 March in Ljubljana (+01:00) is 22:30 UTC: it counts on the participant's 1 March
    late_evening = entry_body("weight", kg=62.0, occurred_at="2026-03-01T23:30:00+01:00")
    voided = entry_body("weight", kg=90.0, occurred_at="2026-03-05T08:00:00+01:00")
    for body in (late_evening, voided):
        assert (await client.post(entries_path(participant), json=body, headers=phone)).status_code == 201
    await client.delete(entries_path(participant, voided["id"]), params={"reason": "typo"}, headers=phone)
    their = entry_body("weight", kg=85.0, occurred_at="2026-02-01T08:00:00+01:00")
    assert (await client.post(entries_path(other), json=their, headers=other_phone)).status_code == 201

    assert await weight_on_day(session=session, participant=participant, day=date(2026, 2, 28)) == 60.0
    assert await weight_on_day(session=session, participant=participant, day=date(2026, 3, 1)) == 62.0
    assert (
        await weight_on_day(session=session, participant=participant, day=date(2026, 3, 6)) == 62.0
    )  # not 90
    assert await weight_on_day(session=session, participant=other, day=date(2026, 3, 1)) == 85.0
    # a run-in day before enrolment has the enrolment weight
    days = [date(2025, 12, 25), date(2026, 3, 1)]
    assert await weights_on_days(session=session, participant=participant, days=days) == {
        date(2025, 12, 25): 60.0,
        date(2026, 3, 1): 62.0,
    }
