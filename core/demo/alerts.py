"""The demo clinician's work so far: older alerts reviewed and resolved, one dose review decided, the last
two weeks left open, so the inbox looks like a ward's on a Monday morning rather than 90 days of backlog."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.access import Actor
from core.models.alerts import Alert, AlertCategory, AlertStatus, DoseDecision
from core.rules import lifecycle

OPEN_DAYS = 14


async def review_alerts(*, session: AsyncSession, people: Any) -> dict[str, int]:
    """Resolve the clinician's alerts whose last occurrence is older than two weeks; decide one dose review.

    Returns how many alerts were resolved and how many stay open (all participants).
    """
    clinician = Actor.of(people.clinician)
    cutoff = clock.now() - timedelta(days=OPEN_DAYS)
    in_scope = await lifecycle.list_alerts(
        session=session, actor=clinician, status=AlertStatus.open, limit=500
    )
    resolved, decided = 0, False
    for view in sorted(in_scope.items, key=lambda v: v.alert.last_occurred_at):
        alert = view.alert
        if alert.last_occurred_at >= cutoff:
            continue
        if alert.category == AlertCategory.dose_review and not decided:
            await lifecycle.decide(
                session=session,
                actor=clinician,
                alert_id=alert.id,
                decision=DoseDecision.contacted_participant,
                note="Phoned the family; agreed to log a 3 a.m. reading for a week before changing doses.",
            )
            decided = True
        else:
            await lifecycle.acknowledge(session=session, actor=clinician, alert_id=alert.id)
            await lifecycle.resolve(
                session=session,
                actor=clinician,
                alert_id=alert.id,
                note="Reviewed at the weekly call; treated and re-checked per the sick-day and hypo plan.",
            )
        resolved += 1
    still_open = (
        await session.execute(select(Alert.id).where(col(Alert.status) != AlertStatus.resolved.value))
    ).all()
    return {"resolved": resolved, "open": len(still_open)}
