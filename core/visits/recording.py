"""Recording a visit: completed with its lab results (a correction is a new version), missed, or cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.access import Actor
from core.diary import weights
from core.errors import Conflict, FieldProblem, InvalidInput
from core.models.diary import DiaryEntry
from core.models.study import Participant, ParticipantWeight
from core.models.visits import Visit, VisitChange, VisitStatus
from core.studies import protocol as study_protocol
from core.visits import plan as visit_plan
from core.visits import results as visit_results
from core.visits.service import add_version, outside_window, snapshot, visit_in_scope

# IDAA1c's insulin dose: the mean total daily dose of the days before the visit (CLINICAL.md A3: days with data)
DOSE_DAYS = 3


async def complete(
    *,
    session: AsyncSession,
    actor: Actor,
    visit_id: uuid.UUID,
    completed_on: date,
    results: Mapping[str, float | None],
    reason: str | None,
    version: int | None,
    context: audit.AuditContext,
) -> tuple[Visit, Participant]:
    """Mark the visit done on `completed_on` with its results. Completing a completed visit again is a
    correction: it needs a `reason` (409 without one) and becomes the next version; the earlier stays."""
    visit, participant = await visit_in_scope(session=session, actor=actor, visit_id=visit_id)
    _check_version(visit, version)
    if visit.status == VisitStatus.cancelled:
        raise Conflict(
            f"Visit {visit.label} was cancelled ({visit.reason}); a cancelled visit is not completed."
        )
    correction = visit.status == VisitStatus.completed
    if correction and not reason:
        raise Conflict(
            f"Visit {visit.label} was completed on {visit.completed_on} (version {visit.version}). To correct "
            "it, send the corrected values with a reason (and version); the earlier record is kept.",
            fields=[FieldProblem("reason", "required to correct a completed visit")],
        )
    today = visit_plan.local_today(clock.now(), participant.timezone)
    if completed_on > today:
        raise _invalid(
            "completed_on", f"{completed_on} is after today ({today}, the participant's local date)"
        )
    if completed_on < participant.treatment_date:
        raise _invalid(
            "completed_on", f"{completed_on} is before day 0 (treatment date {participant.treatment_date})"
        )
    given = visit_results.check_results(results)
    settings, _ = await study_protocol.current_protocol(session=session, study_id=participant.study_id)
    weight = given.get("weight_kg") or await weights.weight_on_day(
        session=session, participant=participant, day=completed_on
    )
    dose = await _iu_per_day(session, participant.id, completed_on)
    per_kg = round(dose / weight, 3) if dose is not None and weight else None
    derived = visit_results.derived(
        given,
        height_cm=participant.height_cm,
        weight_kg=weight,
        iu_per_kg_day=per_kg,
        mg_dl_per_mmol_l=settings.glucose.mg_dl_per_mmol_l,
    )
    if per_kg is not None and dose is not None:
        derived.update(insulin_iu_per_day=round(dose, 2), insulin_iu_per_kg_day=per_kg)
    if "weight_kg" in given and (visit.results.get("weight_kg"), visit.completed_on) != (
        given["weight_kg"],
        completed_on,
    ):
        session.add(
            ParticipantWeight(
                participant_id=participant.id,
                measured_at=visit_plan.local_moment(completed_on, time(12, 0), participant.timezone),
                kg=given["weight_kg"],
                source="visit",
                recorded_by=actor.user_id,
            )
        )
    before = snapshot(visit)
    visit.status = VisitStatus.completed
    visit.completed_on = completed_on
    visit.outside_window = outside_window(visit, completed_on)
    visit.results = given
    visit.derived = derived
    visit.reason = reason
    visit.version += 1
    change = VisitChange.corrected if correction else VisitChange.completed
    await add_version(session=session, visit=visit, change=change, actor=actor, reason=reason)
    await _audit(session, actor, visit, f"visit.{change.value}", before, reason, context)
    return visit, participant


async def mark_missed(
    *,
    session: AsyncSession,
    actor: Actor,
    visit_id: uuid.UUID,
    reason: str,
    version: int | None,
    context: audit.AuditContext,
) -> tuple[Visit, Participant]:
    """A planned visit did not take place (a missed visit may still be completed later)."""
    visit, participant = await visit_in_scope(session=session, actor=actor, visit_id=visit_id)
    _check_version(visit, version)
    if visit.status != VisitStatus.planned:
        raise Conflict(
            f"Visit {visit.label} is {visit.status}; only a planned visit can be marked missed.",
            fields=[FieldProblem("status", f"{visit.status}; allowed: planned")],
        )
    return await _close(session, actor, visit, participant, VisitChange.missed, reason, context)


async def cancel(
    *,
    session: AsyncSession,
    actor: Actor,
    visit_id: uuid.UUID,
    reason: str,
    version: int | None,
    context: audit.AuditContext,
) -> tuple[Visit, Participant]:
    """A planned or missed visit will not take place (the protocol or the participant's situation says so)."""
    visit, participant = await visit_in_scope(session=session, actor=actor, visit_id=visit_id)
    _check_version(visit, version)
    if visit.status not in (VisitStatus.planned, VisitStatus.missed):
        raise Conflict(
            f"Visit {visit.label} is {visit.status}; only a planned or missed visit can be cancelled.",
            fields=[FieldProblem("status", f"{visit.status}; allowed: planned, missed")],
        )
    return await _close(session, actor, visit, participant, VisitChange.cancelled, reason, context)


async def _close(
    session: AsyncSession,
    actor: Actor,
    visit: Visit,
    participant: Participant,
    change: VisitChange,
    reason: str,
    context: audit.AuditContext,
) -> tuple[Visit, Participant]:
    before = snapshot(visit)
    visit.status = VisitStatus(change.value)
    visit.reason = reason
    visit.version += 1
    await add_version(session=session, visit=visit, change=change, actor=actor, reason=reason)
    await _audit(session, actor, visit, f"visit.{change.value}", before, reason, context)
    return visit, participant


def _check_version(visit: Visit, version: int | None) -> None:
    if version is not None and version != visit.version:
        raise Conflict(
            f"Visit {visit.label} is at version {visit.version}, not {version}: someone changed it since you "
            "read it. Read it again; nothing was changed.",
            fields=[FieldProblem("version", f"{version} is stale; current {visit.version}")],
        )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    visit: Visit,
    action: str,
    before: dict[str, object],
    reason: str | None,
    context: audit.AuditContext,
) -> None:
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action=action,
        subject_type="visit",
        subject_id=visit.id,
        before=before,
        after={**snapshot(visit), "reason": reason},
        context=context,
    )


async def _iu_per_day(session: AsyncSession, participant_id: uuid.UUID, on: date) -> float | None:
    """Mean total daily insulin (IU) over the DOSE_DAYS local days before `on` that have doses; None if none."""
    result = await session.execute(
        select(col(DiaryEntry.local_date), col(DiaryEntry.data)).where(
            col(DiaryEntry.participant_id) == participant_id,
            col(DiaryEntry.kind) == "insulin",
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.local_date) >= on - timedelta(days=DOSE_DAYS),
            col(DiaryEntry.local_date) < on,
        )
    )
    per_day: dict[date, float] = {}
    for local_date, data in result.all():
        per_day[local_date] = per_day.get(local_date, 0.0) + float(data.get("units", 0))
    return sum(per_day.values()) / len(per_day) if per_day else None


def _invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}.", fields=[FieldProblem(path, message)])
