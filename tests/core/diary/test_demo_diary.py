"""The demo diary: 90 days a clinician can read something from, written through the diary service."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.demo import load_demo
from core.models.diary import DiaryEntry, GlucoseReading
from core.models.study import Participant


async def test_demo_diary_has_the_stories_it_promises(session: AsyncSession) -> None:
    created, _ = await load_demo(session=session)
    assert created
    subjects = {
        p.subject_code: p.id
        for p in (
            await session.execute(select(Participant).where(col(Participant.subject_code).like("MS-%")))
        ).scalars()
    }
    for subject, participant_id in subjects.items():
        days = await session.execute(
            select(func.count(func.distinct(GlucoseReading.local_date))).where(
                col(GlucoseReading.participant_id) == participant_id
            )
        )
        assert days.scalar_one() >= 88, subject
    entries = list((await session.execute(select(DiaryEntry))).scalars())
    lows = [e for e in entries if e.kind == "glucose" and "hypoglycemia_level_1" in e.flags]
    assert len(lows) >= 3
    assert any(e.kind == "glucose" and "fasting_above_range" in e.flags for e in entries)
    [severe] = [e for e in entries if e.kind == "hypo_event"]
    assert severe.data["needed_assistance"] and severe.relationship == "mother"
    [illness] = [e for e in entries if e.kind == "illness"]
    assert illness.data["ketones_mmol_l"] == 1.8
    assert {
        e.data["unit"] for e in entries if e.kind == "glucose" and e.participant_id == subjects["MS-001"]
    } == {"mmol/L"}

    # MS-003 responds to treatment: basal insulin more than halves between the first and the last week
    basal = sorted(
        (e.local_date, e.data["units"])
        for e in entries
        if e.participant_id == subjects["MS-003"] and e.kind == "insulin" and e.data["purpose"] == "basal"
    )
    first_week = sum(u for _, u in basal[:7]) / 7
    last_week = sum(u for _, u in basal[-7:]) / 7
    assert last_week < first_week / 2
    assert any(e.recorded_by_role == "coordinator" for e in entries if e.participant_id == subjects["MS-003"])
    assert sum(e.voided for e in entries) == 3 and sum(e.version == 2 for e in entries) == 6
