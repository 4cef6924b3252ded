"""Two schedulers over a simulated month (the clock moved, never slept), on the real, committing database:
one reminder per visit and lead time, none to a withdrawn participant, the guardian gets the child's, a day of
downtime caught up (a reminder whose visit is still ahead goes out late, a stale one not at all)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlmodel import select

from core import clock
from core.db import session_scope
from core.models.jobs import JobRun
from core.models.outbox import OutboxMessage
from core.models.people import Role
from core.models.study import Participant
from core.scheduling import runner
from core.visits import service as visit_service
from tests.factories import create_guardian, create_participant, create_staff, create_study

START = datetime(2026, 2, 3, 0, 0, tzinfo=UTC)
END = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
TICK = timedelta(hours=6)
# the schedulers are down for a day: 15 February 00:00 to 16 February 00:00 UTC
DOWN = (datetime(2026, 2, 15, 0, 0, tzinfo=UTC), datetime(2026, 2, 16, 0, 0, tzinfo=UTC))


async def _world() -> dict[str, Any]:
    async with session_scope() as session:
        study = await create_study(session)
        coordinator = await create_staff(session, study, Role.coordinator)

        async def enrolled(code: str, treatment: date, zone: str, **extra: Any) -> Participant:
            participant = await create_participant(
                session,
                study,
                subject_code=code,
                treatment_date=treatment,
                timezone=zone,
                enrolled_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                **extra,
            )
            await visit_service.plan_participant(
                session=session, participant=participant, actor=None, reason="t"
            )
            return participant

        child = await enrolled("CHILD", date(2026, 1, 12), "Europe/Ljubljana")  # M1 12 Feb (window to 19 Feb)
        guardian = await create_guardian(session, child)
        # withdrawn without the withdrawal hook: planned visits remain, and still nothing may reach them
        withdrawn = await enrolled("GONE", date(2026, 1, 12), "Europe/Ljubljana")
        withdrawn.status = "withdrawn"
        new_york = await enrolled("NYC", date(2026, 1, 16), "America/New_York")  # M1 16 Feb
        stale = await enrolled("STALE", date(2026, 1, 16), "Europe/Ljubljana")  # M1 16 Feb
        users = {
            child.user_id: "CHILD",
            guardian.id: "CHILD's guardian",
            new_york.user_id: "NYC",
            stale.user_id: "STALE",
            withdrawn.user_id: "GONE",
            coordinator.id: "coordinator",
        }
        return {"users": users}


async def _tick(moment: datetime) -> None:
    clock.set_now(moment)
    # reminders every tick, the daily checks once a day (bounding the test's run time, not the jobs' triggers)
    names = runner.JOBS if moment.hour == 12 else ["visits.remind"]
    for name in names:
        # two schedulers fire the same job at the same moment
        first, second = await asyncio.gather(
            runner.run_job(name, runner_id="scheduler-a"), runner.run_job(name, runner_id="scheduler-b")
        )
        assert {first.outcome, second.outcome} <= {"ok", "busy"}, (first, second)


async def test_two_schedulers_over_a_month_with_a_day_down(committing_app: FastAPI) -> None:
    world = await _world()
    moment = START
    while moment < END:
        if not DOWN[0] <= moment < DOWN[1]:
            await _tick(moment)
        moment += TICK
    async with session_scope() as session:
        messages = (await session.execute(select(OutboxMessage))).scalars().all()
        runs = (await session.execute(select(JobRun))).scalars().all()
    who = world["users"]
    reminders = Counter(
        (who[m.recipient_user_id], m.payload["label"], m.payload["days_before"])
        for m in messages
        if m.kind == "visit.reminder"
    )
    assert reminders == Counter(
        {
            ("CHILD", "M1", 7): 1,
            ("CHILD", "M1", 1): 1,
            ("CHILD's guardian", "M1", 7): 1,
            ("CHILD's guardian", "M1", 1): 1,
            ("NYC", "M1", 7): 1,
            # due 15 Feb 14:00 UTC (09:00 in New York) while down; sent at 16 Feb 00:00 UTC, 19:00 the evening before
            ("NYC", "M1", 1): 1,
            # STALE's 1-day reminder fell due while down; on restart its visit day had begun: not sent
            ("STALE", "M1", 7): 1,
        }
    )
    late = next(
        m
        for m in messages
        if m.kind == "visit.reminder" and who[m.recipient_user_id] == "NYC" and m.payload["days_before"] == 1
    )
    assert late.created_at == DOWN[1] and late.payload["days_until"] == 1
    on_time = next(
        m
        for m in messages
        if m.kind == "visit.reminder"
        and who[m.recipient_user_id] == "CHILD"
        and m.payload["label"] == "M1"
        and m.payload["days_before"] == 7
    )
    # due 5 February 09:00 in Ljubljana (08:00 UTC); the first tick after it is 12:00 UTC
    assert on_time.created_at == datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
    # the withdrawn participant gets nothing at all
    assert not [m for m in messages if who.get(m.recipient_user_id) == "GONE"]
    # fasting reminders: one per local day per recipient, at most (no diary was kept)
    fasting = Counter(
        (m.recipient_user_id, m.payload["local_date"]) for m in messages if m.kind == "diary.reminder"
    )
    assert fasting and max(fasting.values()) == 1
    # CHILD's M1 window closed 19 February without a result: the coordinator is told once
    missed = [
        (who[m.recipient_user_id], m.payload["subject_code"], m.payload["label"])
        for m in messages
        if m.kind == "visit.missed"
    ]
    assert ("coordinator", "CHILD", "M1") in missed and len(missed) == len(set(missed))
    assert ("coordinator", "GONE", "M1") not in missed
    # every run is on record once per scheduler that did it; a run that found the job busy left none
    assert {r.outcome for r in runs} == {"ok"} and {r.name for r in runs} == set(runner.JOBS)
    assert all(m.payload.get("arm") is None for m in messages)
