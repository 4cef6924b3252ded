"""`endpoints.snapshot`: when a participant's 3-month frame ends, its endpoint counts are stored once per
protocol version, missed frames are stored after downtime, and later diary changes leave them as stored.

Hand-worked participant P (Ljubljana, adult, day 0 = 12 January 2026; frames 1 = 01-12..04-11, 2 = 04-12..07-11):
- frame 1: 2 March 07:00 62, 07:15 66 (re-check), 07:40 95 with symptoms reported at 07:05 -> one documented
  symptomatic episode, level 1; 10 March 45 fasting, no symptoms -> asymptomatic, level 2; 1 February symptoms
  with a linked 85 -> pseudo-hypoglycemia (reported, not an episode). Exposure 90 days = 0.2464 patient-years.
- frame 2: 1 May an event that needed another adult's help -> severe, level 3; 1 June symptoms, nothing
  measured -> probable symptomatic, level 1. Exposure 91 days = 0.2491.
W (day 0 = 1 February, withdrawn 15 March): frame 1 only (02-01..03-14 = 42 days = 0.1150), with one 50 mg/dL
reading (asymptomatic, level 2); frame 2 began after the withdrawal: nothing to store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.diary.rows import bump_sequence
from core.models.reports import EndpointSnapshot
from core.models.study import Participant, ProtocolVersion, Study
from core.reports import jobs
from tests.core.rules.diary_rows import new_row
from tests.factories import DEFAULT_PROTOCOL, create_participant, create_study

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
COUNTS = (
    "episodes",
    "level_1",
    "level_2",
    "level_3",
    "severe",
    "documented_symptomatic",
    "asymptomatic",
    "probable_symptomatic",
    "pseudo_hypoglycemia",
)


def g(value: float, context: str = "random") -> dict[str, Any]:
    return {"value": value, "unit": "mg/dL", "context": context}


def event(**data: Any) -> dict[str, Any]:
    return {"symptoms": True, "needed_assistance": False, "treatment": ["oral_carbohydrate"], **data}


async def diary(
    session: AsyncSession, participant: Participant, *entries: tuple[str, datetime, dict[str, Any]]
) -> None:
    for kind, moment, data in entries:
        await new_row(session, participant, kind, moment, **data)
    await bump_sequence(session=session, participant_id=participant.id)


async def stored(session: AsyncSession) -> list[EndpointSnapshot]:
    found = await session.execute(
        select(EndpointSnapshot).order_by(
            col(EndpointSnapshot.protocol_version), col(EndpointSnapshot.frame_start)
        )
    )
    return list(found.scalars())


def figures(row: EndpointSnapshot) -> tuple[Any, ...]:
    return (
        row.frame,
        row.frame_start,
        row.frame_end,
        row.exposure_days,
        row.exposure_years,
        *(getattr(row, name) for name in COUNTS),
    )


async def test_each_ended_frame_is_stored_once_with_its_hand_worked_counts(session: AsyncSession) -> None:
    study = await create_study(session)
    p = await create_participant(session, study, treatment_date=date(2026, 1, 12))
    pseudo = await new_row(session, p, "glucose", datetime(2026, 2, 1, 10, 0, tzinfo=CET), **g(85))
    await diary(
        session,
        p,
        ("glucose", datetime(2026, 3, 2, 7, 0, tzinfo=CET), g(62)),
        ("glucose", datetime(2026, 3, 2, 7, 15, tzinfo=CET), g(66)),
        ("glucose", datetime(2026, 3, 2, 7, 40, tzinfo=CET), g(95)),
        ("hypo_event", datetime(2026, 3, 2, 7, 5, tzinfo=CET), event()),
        ("glucose", datetime(2026, 3, 10, 7, 0, tzinfo=CET), g(45, "fasting")),
        ("hypo_event", datetime(2026, 2, 1, 10, 1, tzinfo=CET), event(glucose_entry_id=str(pseudo.id))),
        ("hypo_event", datetime(2026, 5, 1, 15, 0, tzinfo=CEST), event(needed_assistance=True)),
        ("hypo_event", datetime(2026, 6, 1, 12, 0, tzinfo=CEST), event()),
    )
    w = await create_participant(
        session,
        study,
        treatment_date=date(2026, 2, 1),
        enrolled_at=datetime(2026, 1, 20, 9, 0, tzinfo=UTC),
        status="withdrawn",
        withdrawn_at=datetime(2026, 3, 15, 12, 0, tzinfo=UTC),
    )
    await diary(session, w, ("glucose", datetime(2026, 2, 10, 7, 0, tzinfo=CET), g(50)))

    # 11 July 21:00 UTC = 23:00 in Ljubljana: P's frame 2 has one local hour to go. The job has never run:
    # it catches up P's frame 1 (ended 11 April) and W's frame 1 (ended 30 April) at once
    assert await jobs.snapshot(session, datetime(2026, 7, 11, 21, 0, tzinfo=UTC)) == {"due": 2, "stored": 2}
    assert await jobs.snapshot(session, datetime(2026, 7, 11, 21, 59, tzinfo=UTC)) == {"due": 0, "stored": 0}
    # 22:00 UTC = midnight in Ljubljana: frame 2 has ended
    assert await jobs.snapshot(session, datetime(2026, 7, 11, 22, 0, tzinfo=UTC)) == {"due": 1, "stored": 1}
    assert await jobs.snapshot(session, datetime(2026, 7, 12, 9, 0, tzinfo=UTC)) == {"due": 0, "stored": 0}

    rows = {(r.participant_id, r.frame): r for r in await stored(session)}
    assert set(rows) == {(p.id, 1), (p.id, 2), (w.id, 1)}
    # frame, start, end, days, years, episodes, L1, L2, L3, severe, documented symptomatic, asymptomatic,
    # probable symptomatic, pseudo-hypoglycemia
    assert figures(rows[(p.id, 1)]) == (
        1,
        date(2026, 1, 12),
        date(2026, 4, 11),
        90,
        0.2464,
        2,
        1,
        1,
        0,
        0,
        1,
        1,
        0,
        1,
    )
    assert figures(rows[(p.id, 2)]) == (
        2,
        date(2026, 4, 12),
        date(2026, 7, 11),
        91,
        0.2491,
        2,
        1,
        0,
        1,
        1,
        0,
        0,
        1,
        0,
    )
    assert figures(rows[(w.id, 1)]) == (
        1,
        date(2026, 2, 1),
        date(2026, 4, 30),
        42,
        0.115,
        1,
        0,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
    )
    assert {r.protocol_version for r in rows.values()} == {1}
    assert rows[(p.id, 1)].change_seq == 1  # the diary's change position the counts were taken at

    # a late entry in frame 1 changes the live report, never the stored snapshot
    await diary(session, p, ("glucose", datetime(2026, 3, 20, 7, 0, tzinfo=CET), g(50)))
    assert await jobs.snapshot(session, datetime(2026, 7, 13, 9, 0, tzinfo=UTC)) == {"due": 0, "stored": 0}
    frame1 = next(r for r in await stored(session) if r.participant_id == p.id and r.frame == 1)
    await session.refresh(frame1)
    assert frame1.episodes == 2

    # a new protocol version: the ended frames are stored again under it (the late 50 now counts), the old
    # rows stay as they were
    session.add(
        ProtocolVersion(study_id=study.id, version=2, settings=DEFAULT_PROTOCOL.model_dump(mode="json"))
    )
    found = await session.get(Study, study.id)
    assert found is not None
    found.protocol_version = 2
    await session.flush()
    assert await jobs.snapshot(session, datetime(2026, 7, 13, 10, 0, tzinfo=UTC)) == {"due": 3, "stored": 3}
    by_version = {(r.participant_id, r.frame, r.protocol_version): r.episodes for r in await stored(session)}
    assert by_version[(p.id, 1, 1)] == 2 and by_version[(p.id, 1, 2)] == 3 and len(by_version) == 6
