"""Planning visits: materialise the protocol's plan for a participant, re-plan what is still planned when day 0
or the protocol changes, cancel future visits at withdrawal; listing a participant's visits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, audit, clock
from core.access import Actor
from core.errors import NotFound
from core.models.study import Participant, ParticipantStatus
from core.models.visits import Visit, VisitChange, VisitStatus, VisitVersion
from core.studies import protocol as study_protocol
from core.visits import plan as visit_plan

SYSTEM_ROLE = "system"
# participants still followed: only they get visits planned or moved
FOLLOWED = frozenset({ParticipantStatus.screening.value, ParticipantStatus.enrolled.value})


def snapshot(visit: Visit) -> dict[str, Any]:
    """The visit as a version records it (JSON-ready)."""
    return visit.model_dump(mode="json", exclude={"created_at"})


async def add_version(
    *, session: AsyncSession, visit: Visit, change: VisitChange, actor: Actor | None, reason: str | None
) -> None:
    """Record `visit` as it now stands as its version `visit.version` (the caller has bumped it)."""
    visit.updated_by = actor.user_id if actor else None
    visit.updated_at = clock.now()
    session.add(visit)
    await session.flush()
    session.add(
        VisitVersion(
            visit_id=visit.id,
            version=visit.version,
            change=change,
            snapshot=snapshot(visit),
            changed_by=actor.user_id if actor else None,
            changed_by_role=actor.role.value if actor else SYSTEM_ROLE,
            changed_at=visit.updated_at,
            reason=reason,
        )
    )
    await session.flush()


async def visits_of(*, session: AsyncSession, participant_id: uuid.UUID) -> list[Visit]:
    """The participant's visits in date order."""
    result = await session.execute(
        select(Visit)
        .where(col(Visit.participant_id) == participant_id)
        .order_by(col(Visit.target_date), col(Visit.month))
    )
    return list(result.scalars())


async def plan_participant(
    *,
    session: AsyncSession,
    participant: Participant,
    actor: Actor | None,
    reason: str,
    context: audit.AuditContext | None = None,
    previous_treatment_date: date | None = None,
) -> int:
    """Bring the participant's visits in line with the protocol in force and their day 0: new visits are
    created, visits still planned are moved (or cancelled when the plan dropped their month); completed,
    missed and cancelled visits are never touched. Returns how many visits changed; audited when any did
    (`previous_treatment_date`: day 0 before a correction, recorded beside the new one)."""
    if participant.status not in FOLLOWED:
        return 0
    settings, protocol_version = await study_protocol.current_protocol(
        session=session, study_id=participant.study_id
    )
    wanted = {v.month: v for v in visit_plan.plan_visits(participant.treatment_date, settings.visits)}
    existing = {v.month: v for v in await visits_of(session=session, participant_id=participant.id)}
    moved: list[dict[str, Any]] = []
    created = 0
    for month, planned in wanted.items():
        visit = existing.get(month)
        if visit is None:
            visit = Visit(
                participant_id=participant.id,
                study_id=participant.study_id,
                label=planned.label,
                month=month,
                target_date=planned.target_date,
                window_start=planned.window_start,
                window_end=planned.window_end,
                protocol_version=protocol_version,
            )
            await add_version(
                session=session, visit=visit, change=VisitChange.planned, actor=actor, reason=reason
            )
            created += 1
            continue
        dates = (planned.target_date, planned.window_start, planned.window_end)
        if visit.status != VisitStatus.planned or dates == (
            visit.target_date,
            visit.window_start,
            visit.window_end,
        ):
            continue
        moved.append({"label": visit.label, "from": _dates(visit), "to": _dates(planned)})
        visit.target_date, visit.window_start, visit.window_end = dates
        visit.protocol_version = protocol_version
        visit.version += 1
        await add_version(
            session=session, visit=visit, change=VisitChange.replanned, actor=actor, reason=reason
        )
    dropped = []
    for month, visit in existing.items():
        if month not in wanted and visit.status == VisitStatus.planned:
            dropped.append(visit.label)
            await _cancel(
                session=session,
                visit=visit,
                actor=actor,
                reason=f"not in the plan of protocol version {protocol_version}: {reason}",
            )
    if existing and (moved or dropped or created):
        await audit.record(
            session=session,
            actor_id=actor.user_id if actor else None,
            action="visits.replanned",
            subject_type="participant",
            subject_id=participant.id,
            before={"treatment_date": previous_treatment_date or participant.treatment_date},
            after={
                "treatment_date": participant.treatment_date,
                "reason": reason,
                "protocol_version": protocol_version,
                "moved": moved,
                "cancelled": dropped,
                "created": created,
                "untouched": "completed, missed and cancelled visits keep their dates",
            },
            context=context,
        )
    return created + len(moved) + len(dropped)


def _dates(visit: Visit | visit_plan.PlannedVisit) -> str:
    return f"{visit.target_date} ({visit.window_start} to {visit.window_end})"


async def _cancel(*, session: AsyncSession, visit: Visit, actor: Actor | None, reason: str) -> None:
    visit.status = VisitStatus.cancelled
    visit.reason = reason
    visit.version += 1
    await add_version(session=session, visit=visit, change=VisitChange.cancelled, actor=actor, reason=reason)


async def replan_study(
    *,
    session: AsyncSession,
    study_id: uuid.UUID,
    actor: Actor | None,
    reason: str,
    context: audit.AuditContext,
) -> int:
    """Re-plan every followed participant of the study (a new protocol version); returns visits changed."""
    result = await session.execute(
        select(Participant).where(
            col(Participant.study_id) == study_id, col(Participant.status).in_(sorted(FOLLOWED))
        )
    )
    changed = 0
    for participant in result.scalars():
        changed += await plan_participant(
            session=session, participant=participant, actor=actor, reason=reason, context=context
        )
    return changed


async def cancel_for_withdrawal(
    *, session: AsyncSession, participant: Participant, actor: Actor | None, reason: str
) -> int:
    """A withdrawn participant's planned visits whose window has not closed are cancelled, the withdrawal as
    the reason; an overdue one (window closed without a result) stays for staff to record as missed."""
    today = visit_plan.local_today(clock.now(), participant.timezone)
    cancelled = 0
    for visit in await visits_of(session=session, participant_id=participant.id):
        if visit.status == VisitStatus.planned and visit.window_end >= today:
            await _cancel(
                session=session, visit=visit, actor=actor, reason=f"participant withdrawn: {reason}"
            )
            cancelled += 1
    return cancelled


async def plan_unplanned(*, session: AsyncSession) -> int:
    """Plan the visits of every followed participant who has none yet (enrolled before visits existed)."""
    has_visits = select(Visit.participant_id).distinct()
    result = await session.execute(
        select(Participant).where(
            col(Participant.status).in_(sorted(FOLLOWED)), col(Participant.id).not_in(has_visits)
        )
    )
    planned = 0
    for participant in result.scalars():
        planned += await plan_participant(
            session=session,
            participant=participant,
            actor=None,
            reason="visits planned for an earlier enrolment",
        )
    return planned


async def visit_in_scope(
    *, session: AsyncSession, actor: Actor, visit_id: uuid.UUID
) -> tuple[Visit, Participant]:
    """The visit and its participant if the actor may see the participant; NotFound otherwise (no leak)."""
    visit = await session.get(Visit, visit_id)
    if visit is None:
        raise NotFound("No such visit.")
    try:
        participant = await access.participant_in_scope(
            session=session, actor=actor, participant_id=visit.participant_id
        )
    except NotFound:
        raise NotFound("No such visit.") from None
    return visit, participant


async def history(*, session: AsyncSession, visit_id: uuid.UUID) -> list[VisitVersion]:
    result = await session.execute(
        select(VisitVersion).where(col(VisitVersion.visit_id) == visit_id).order_by(col(VisitVersion.version))
    )
    return list(result.scalars())


def outside_window(visit: Visit, completed_on: date) -> bool:
    return not visit.window_start <= completed_on <= visit.window_end
