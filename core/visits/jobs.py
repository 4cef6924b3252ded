"""Visit jobs: `visits.remind` (reminders before each visit) and `visits.flag_missed` (window closed, no result).

Each message is queued through core.outbox under a key naming the visit, its date and the lead time, so a job
run twice, or by two schedulers at once, queues it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import outbox
from core.models.outbox import MessageCategory
from core.models.study import Participant
from core.models.visits import Visit, VisitStatus
from core.protocol import VisitPlan
from core.studies import protocol as study_protocol
from core.visits import plan as visit_plan
from core.visits.service import FOLLOWED

# the furthest lead time a protocol may set (VisitPlan allows 60 days), plus a day for time zones
HORIZON_DAYS = 61

REMINDER = outbox.MessageKind("visit.reminder", MessageCategory.reminder)
MISSED = outbox.MessageKind("visit.missed", MessageCategory.operational, "warning")


async def _plans(session: AsyncSession, study_ids: set[uuid.UUID]) -> dict[uuid.UUID, VisitPlan]:
    plans = {}
    for study_id in study_ids:
        settings, _ = await study_protocol.current_protocol(session=session, study_id=study_id)
        plans[study_id] = settings.visits
    return plans


async def _planned_visits(
    session: AsyncSession, *, target_from: Any = None, window_end_before: Any = None
) -> list[tuple[Visit, Participant]]:
    query = (
        select(Visit, Participant)
        .join(Participant, col(Participant.id) == col(Visit.participant_id))
        .where(col(Visit.status) == VisitStatus.planned.value, col(Participant.status).in_(sorted(FOLLOWED)))
    )
    if target_from is not None:
        query = query.where(col(Visit.target_date).between(*target_from))
    if window_end_before is not None:
        query = query.where(col(Visit.window_end) < window_end_before)
    return [(visit, participant) for visit, participant in (await session.execute(query)).all()]


def _about(visit: Visit, participant: Participant) -> dict[str, Any]:
    return {
        "visit_id": str(visit.id),
        "label": visit.label,
        "month": visit.month,
        "target_date": str(visit.target_date),
        "window_start": str(visit.window_start),
        "window_end": str(visit.window_end),
        "subject_code": participant.subject_code,
    }


async def remind(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Each planned visit's latest due reminder, to the participant and every active guardian, once.

    Due: the protocol's lead time (7 and 1 days by default) at its local time of day in the participant's
    zone has passed and the visit's day has not come. After downtime a superseded reminder is stale and skipped.
    """
    today = now.date()
    rows = await _planned_visits(
        session, target_from=(today - timedelta(days=1), today + timedelta(HORIZON_DAYS))
    )
    plans = await _plans(session, {p.study_id for _, p in rows})
    notices = []
    for visit, participant in rows:
        due = visit_plan.reminder_due(
            visit.target_date, plans[participant.study_id], participant.timezone, now
        )
        if due is None:
            continue
        days_before, _moment = due
        days_until = (visit.target_date - visit_plan.local_today(now, participant.timezone)).days
        when = "tomorrow" if days_until == 1 else f"in {days_until} days"
        payload = {
            **_about(visit, participant),
            "days_before": days_before,
            "days_until": days_until,
            "summary": f"Study visit {visit.label} {when}, on {visit.target_date}",
        }
        key = f"visit.reminder:{visit.id}:{visit.target_date}:{days_before}d"
        notices.append(outbox.Notice(participant, payload, key))
    return await outbox.enqueue_each(session, REMINDER, notices, counted="visits_due")


async def flag_missed(session: AsyncSession, now: datetime) -> dict[str, int]:
    """A planned visit whose window has closed (in the participant's zone) without a result: an operational
    message to the coordinators, once per visit and window. The visit stays planned until staff record it
    missed (with a reason) or completed late."""
    rows = await _planned_visits(session, window_end_before=now.date() + timedelta(days=1))
    notices = []
    for visit, participant in rows:
        if visit.window_end >= visit_plan.local_today(now, participant.timezone):
            continue
        payload = {
            **_about(visit, participant),
            "summary": f"{participant.subject_code}: visit {visit.label} has no result and its window "
            f"closed on {visit.window_end}",
        }
        notices.append(outbox.Notice(participant, payload, f"visit.missed:{visit.id}:{visit.window_end}"))
    return await outbox.enqueue_each(session, MISSED, notices, counted="overdue")
