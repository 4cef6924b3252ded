"""`episodes.weekly_summary`: one summary a week to each clinician, of their own sites' participants only, by
level with the severe ones named, and nothing about arms or readings in it (the study is blinded)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.diary.rows import bump_sequence
from core.episodes import jobs
from core.models.outbox import OutboxMessage
from core.models.people import Role
from core.models.study import Participant
from core.scheduling.registry import JOBS
from notifications.render import render
from tests.core.rules.diary_rows import new_row
from tests.factories import create_participant, create_staff, create_study

CET = timezone(timedelta(hours=1))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CET)


async def diary(
    session: AsyncSession, participant: Participant, *entries: tuple[str, datetime, dict[str, Any]]
) -> None:
    for kind, moment, data in entries:
        await new_row(session, participant, kind, moment, **data)
    await bump_sequence(session=session, participant_id=participant.id)  # the episode cache sees the change


def low(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mg/dL", "context": "random"}


async def summaries(session: AsyncSession) -> list[OutboxMessage]:
    found = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.kind) == jobs.KIND)
        .order_by(col(OutboxMessage.created_at))
    )
    return list(found.scalars())


def test_the_week_summarised_has_ended_in_every_time_zone() -> None:
    # Monday 9 March 11:59 UTC: Sunday 8 March is still going on at UTC-12, so the week before is summarised
    assert jobs.summarised_week(datetime(2026, 3, 9, 11, 59, tzinfo=UTC)) == (
        date(2026, 2, 23),
        date(2026, 3, 2),
    )
    assert jobs.summarised_week(datetime(2026, 3, 9, 12, 0, tzinfo=UTC)) == (
        date(2026, 3, 2),
        date(2026, 3, 9),
    )
    assert jobs.week_label(date(2026, 3, 2)) == "2026-W10"
    assert JOBS["episodes.weekly_summary"].trigger_text == "Mondays at 12:30"


async def test_each_clinician_gets_one_summary_a_week_of_their_own_sites(session: AsyncSession) -> None:
    study = await create_study(session)  # blinded
    s1 = await create_staff(session, study, Role.clinician, site_codes=("S1",))
    s2 = await create_staff(session, study, Role.clinician, site_codes=("S2",))
    everywhere = await create_staff(session, study, Role.clinician, site_codes=None)
    await create_staff(session, study, Role.coordinator, site_codes=None)  # coordinators get no summary
    p1 = await create_participant(session, study, site_code="S1", arm_code="A", subject_code="S1-001")
    p2 = await create_participant(session, study, site_code="S2", arm_code="B", subject_code="S2-001")
    # week 2026-W10 = Monday 2 to Sunday 8 March (local dates)
    await diary(
        session,
        p1,
        ("glucose", at(3, 7), low(62)),  # level 1
        ("glucose", at(5, 7), low(45)),  # level 2
        (
            "hypo_event",
            at(6, 15),
            {"symptoms": True, "needed_assistance": True, "treatment": ["oral_carbohydrate"]},
        ),
        ("glucose", at(1, 23, 30), low(50)),  # Sunday 1 March: the week before
        ("glucose", at(9, 0, 30), low(50)),  # Monday 9 March: the week after
    )
    await diary(session, p2, ("glucose", at(4, 7), low(50)))  # level 2
    monday = datetime(2026, 3, 9, 12, 30, tzinfo=UTC)

    first = await jobs.weekly_summary(session, monday)
    again = await jobs.weekly_summary(session, monday)
    later = await jobs.weekly_summary(session, datetime(2026, 3, 12, 9, 0, tzinfo=UTC))  # Thursday: same week
    assert first == {"clinicians": 3, "episodes": 3 + 1 + 4, "queued": 3}
    assert again["queued"] == later["queued"] == 0
    sent = {m.recipient_user_id: m for m in await summaries(session)}
    assert set(sent) == {s1.id, s2.id, everywhere.id}  # one each

    # S1's clinician: P1's three episodes of the week (62; 45; the severe event), none of S2's
    mine = sent[s1.id].payload
    assert (mine["week"], mine["participants"], mine["episodes"]) == ("2026-W10", 1, 3)
    assert (mine["level_1"], mine["level_2"], mine["level_3"]) == (1, 1, 1)
    assert mine["severe_subject_codes"] == ["S1-001"]
    assert mine["summary"] == (
        "Week 2026-W10 (2026-03-02 to 2026-03-08): 3 hypoglycemic episodes in 1 of your 1 participants "
        "(level 1: 1, level 2: 1, level 3: 1). Severe: S1-001."
    )
    theirs = sent[s2.id].payload
    assert (theirs["episodes"], theirs["level_2"], theirs["severe_subject_codes"]) == (1, 1, [])
    assert "S1-001" not in str(theirs)
    # the study-wide clinician: both sites, 4 episodes in 2 of 2 participants
    assert (sent[everywhere.id].payload["participants"], sent[everywhere.id].payload["episodes"]) == (2, 4)

    # a blinded clinician's summary names no arm, and no reading value reaches any channel
    for message in sent.values():
        assert not [k for k in message.payload if "arm" in k]
        assert not {"A", "B", "Arm A", "Arm B"} & {str(v) for v in message.payload.values()}
        texts = render(
            kind=message.kind,
            category=message.category,
            severity=message.severity,
            payload=message.payload,
            link_base_url="https://glucodiary.example",
        )
        assert texts.title == "Weekly hypoglycemia summary"
        assert texts.body.startswith("Week 2026-W10") and " arm" not in texts.body.lower()
        for outside in (texts.email_subject, texts.email_text, texts.short_text):
            assert "weekly summary" in outside
            assert not any(code in outside for code in ("S1-001", "S2-001", "62", "45", "50"))

    # the next week is a new summary: nothing happened, and it says so
    await jobs.weekly_summary(session, datetime(2026, 3, 16, 12, 30, tzinfo=UTC))
    w11 = [m for m in await summaries(session) if m.payload["week"] == "2026-W11"]
    assert {m.recipient_user_id for m in w11} == {s1.id, s2.id, everywhere.id}
    s1_w11 = next(m for m in w11 if m.recipient_user_id == s1.id).payload
    # Monday 9 March 00:30 (the low of 50) is in week 11
    assert s1_w11["episodes"] == 1 and s1_w11["level_2"] == 1


async def test_a_clinician_without_enrolled_participants_gets_nothing(session: AsyncSession) -> None:
    study = await create_study(session)
    await create_staff(session, study, Role.clinician, site_codes=("S2",))
    await create_participant(session, study, site_code="S1")
    assert (await jobs.weekly_summary(session, datetime(2026, 3, 9, 12, 30, tzinfo=UTC)))["queued"] == 0
