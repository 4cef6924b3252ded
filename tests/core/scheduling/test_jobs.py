"""Each job's rule on hand-picked moments (the participant lives in Ljubljana, UTC+1 in February): when a
fasting reminder, a silent-diary message and a missed-visit message fall due, to whom, and only once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.adherence import jobs as adherence_jobs
from core.models.outbox import OutboxMessage
from core.models.people import Role
from core.visits import jobs as visit_jobs
from core.visits import service as visit_service
from tests.core.rules.diary_rows import new_row
from tests.factories import create_guardian, create_participant, create_staff, create_study


async def _world(session: AsyncSession) -> dict[str, Any]:
    study = await create_study(session)
    coordinator = await create_staff(session, study, Role.coordinator)
    child = await create_participant(session, study, enrolled_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC))
    guardian = await create_guardian(session, child)
    await visit_service.plan_participant(session=session, participant=child, actor=None, reason="test")
    return {"child": child, "guardian": guardian, "coordinator": coordinator}


async def _queued(session: AsyncSession, kind: str) -> list[OutboxMessage]:
    result = await session.execute(select(OutboxMessage).where(col(OutboxMessage.kind) == kind))
    return list(result.scalars())


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=UTC)


async def test_fasting_reminder_after_the_local_time_once_a_day(session: AsyncSession) -> None:
    w = await _world(session)
    # 10:00 in Ljubljana is 09:00 UTC
    assert (await adherence_jobs.remind_fasting(session, _at(10, 8, 59)))["queued"] == 0
    assert (await adherence_jobs.remind_fasting(session, _at(10, 9, 0)))["queued"] == 2
    assert (await adherence_jobs.remind_fasting(session, _at(10, 15, 0)))["queued"] == 0  # once a day
    sent = await _queued(session, "diary.reminder")
    assert {m.recipient_user_id for m in sent} == {w["child"].user_id, w["guardian"].id}
    assert {m.category for m in sent} == {"reminder"} and sent[0].payload["local_date"] == "2026-02-10"
    # the next day the reading is logged at 07:30 local: no reminder
    await new_row(session, w["child"], "glucose", _at(11, 6, 30), value=98, unit="mg/dL", context="fasting")
    assert (await adherence_jobs.remind_fasting(session, _at(11, 9, 0)))["queued"] == 0


async def test_a_silent_diary_is_told_to_coordinators_once_per_stretch(session: AsyncSession) -> None:
    w = await _world(session)
    await new_row(session, w["child"], "weight", _at(3, 8), kg=61)
    # nothing on 4, 5 February (2 days) by the 6th; 4, 5, 6 (3 days, the protocol's default) by the 7th
    assert (await adherence_jobs.flag_silent(session, _at(6, 12)))["queued"] == 0
    assert (await adherence_jobs.flag_silent(session, _at(7, 12)))["queued"] == 1
    assert (await adherence_jobs.flag_silent(session, _at(8, 12)))["queued"] == 0
    [told] = await _queued(session, "diary.silent")
    assert told.recipient_user_id == w["coordinator"].id and told.category == "operational"
    assert told.payload["last_entry_date"] == "2026-02-03" and told.payload["silent_days"] == 3
    # entries again on the 8th, then silence: a new stretch, a new message on the 12th
    await new_row(session, w["child"], "weight", _at(8, 18), kg=61)
    assert (await adherence_jobs.flag_silent(session, _at(11, 12)))["queued"] == 0
    assert (await adherence_jobs.flag_silent(session, _at(12, 12)))["queued"] == 1


async def test_a_closed_window_without_a_result_is_told_once(session: AsyncSession) -> None:
    w = await _world(session)  # day 0 = 12 January: M1 on 12 February, window to 19 February
    # 22:59 UTC on the 19th is 23:59 in Ljubljana: the window is still open
    assert (await visit_jobs.flag_missed(session, _at(19, 22, 59)))["queued"] == 0
    assert (await visit_jobs.flag_missed(session, _at(19, 23, 0)))["queued"] == 1
    assert (await visit_jobs.flag_missed(session, _at(20, 23, 0)))["queued"] == 0
    [told] = await _queued(session, "visit.missed")
    assert told.recipient_user_id == w["coordinator"].id and told.payload["label"] == "M1"
    assert told.severity == "warning"


async def test_a_reminder_names_the_days_left_and_reaches_participant_and_guardian(
    session: AsyncSession,
) -> None:
    w = await _world(session)
    counts = await visit_jobs.remind(session, _at(5, 8))  # 09:00 local, 7 days before 12 February
    assert counts == {"visits_due": 1, "queued": 2}
    sent = await _queued(session, "visit.reminder")
    assert {m.recipient_user_id for m in sent} == {w["child"].user_id, w["guardian"].id}
    assert sent[0].payload["summary"] == "Study visit M1 in 7 days, on 2026-02-12"
