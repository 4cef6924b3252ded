"""Changes to an enrolled participant after enrolment: status, time zone, birth date, guardian links — each
audited."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.access import Actor
from core.diary.rows import bump_sequence
from core.errors import FieldProblem, InvalidInput, NotFound
from core.models.study import GuardianLink, Participant, ParticipantStatus
from core.models.visits import VisitStatus
from core.studies.enrolment import ParticipantView, participant_view
from core.studies.service import check_timezone
from core.visits import service as visit_service

# a participant moves forward only: screening -> enrolled -> withdrawn | completed
_NEXT = {
    ParticipantStatus.screening: {ParticipantStatus.enrolled, ParticipantStatus.withdrawn},
    ParticipantStatus.enrolled: {ParticipantStatus.withdrawn, ParticipantStatus.completed},
    ParticipantStatus.withdrawn: set(),
    ParticipantStatus.completed: set(),
}


async def change_participant(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    status: ParticipantStatus | None,
    timezone: str | None,
    reason: str,
    context: audit.AuditContext,
    birth_date: date | None = None,
    treatment_date: date | None = None,
) -> ParticipantView:
    """Change status (forward only), time zone, birth date or day 0 (a corrected treatment date) of a participant
    in the actor's scope, with a reason. A corrected day 0 re-plans the visits still planned (core.visits.service)."""
    before: dict[str, object] = {"status": participant.status, "timezone": participant.timezone}
    after: dict[str, object] = {}
    previous_day0 = participant.treatment_date
    if treatment_date is not None and treatment_date != previous_day0:
        await _check_day0(session=session, participant=participant, treatment_date=treatment_date)
        before["treatment_date"] = previous_day0
        after["treatment_date"] = participant.treatment_date = treatment_date
    if status is not None and status != participant.status:
        current = ParticipantStatus(participant.status)
        if status not in _NEXT[current]:
            allowed = ", ".join(sorted(s.value for s in _NEXT[current])) or "none"
            raise InvalidInput(
                f"status: a {current.value} participant cannot become {status.value} (allowed: {allowed}).",
                fields=[
                    FieldProblem(
                        "status", f"{current.value} -> {status.value} not allowed; allowed {allowed}"
                    )
                ],
            )
        participant.status = status
        if status is ParticipantStatus.withdrawn:
            participant.withdrawn_at = clock.now()
            await visit_service.cancel_for_withdrawal(
                session=session, participant=participant, actor=actor, reason=reason
            )
    if timezone is not None:
        participant.timezone = check_timezone(timezone, "timezone")
    if birth_date is not None and birth_date != participant.birth_date:
        await _correct_birth_date(session, participant, birth_date, before, after)
    after = {"status": participant.status, "timezone": participant.timezone, **after}
    if after != before:
        session.add(participant)
        await session.flush()
        if "treatment_date" in after:
            after["visits_changed"] = await visit_service.plan_participant(
                session=session,
                participant=participant,
                actor=actor,
                reason=f"treatment date corrected from {previous_day0} to {treatment_date}: {reason}",
                context=context,
                previous_treatment_date=previous_day0,
            )
        await audit.record(
            session=session,
            actor_id=actor.user_id,
            action="participant.changed",
            subject_type="participant",
            subject_id=participant.id,
            before=before,
            after={**after, "reason": reason},
            context=context,
        )
    return await participant_view(session=session, actor=actor, participant=participant)


async def _correct_birth_date(
    session: AsyncSession,
    participant: Participant,
    birth_date: date,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    """A corrected birth date, and the participant's episodes made stale: the children's level 3 rule depends on
    age at each event (CLINICAL.md A2.7), and the episode cache is keyed by the diary change position, so the
    correction takes one feed position (with no entry at it: the changes feed skips it)."""
    enrolled_on = participant.enrolled_at.date()
    if birth_date > enrolled_on:
        raise InvalidInput(
            f"birth_date: {birth_date} is after the enrolment date {enrolled_on}.",
            fields=[FieldProblem("birth_date", f"{birth_date} is after the enrolment date {enrolled_on}")],
        )
    before["birth_date"] = participant.birth_date
    participant.birth_date = birth_date
    after["birth_date"] = birth_date
    await bump_sequence(session=session, participant_id=participant.id)


async def _check_day0(*, session: AsyncSession, participant: Participant, treatment_date: date) -> None:
    """A day 0 after a visit already recorded as done would put that visit before treatment: refused."""
    for visit in await visit_service.visits_of(session=session, participant_id=participant.id):
        if (
            visit.status == VisitStatus.completed
            and visit.completed_on
            and visit.completed_on < treatment_date
        ):
            raise InvalidInput(
                f"treatment_date: {treatment_date} is after visit {visit.label}, completed on "
                f"{visit.completed_on}; day 0 must be on or before every completed visit.",
                fields=[
                    FieldProblem(
                        "treatment_date",
                        f"{treatment_date} is after {visit.label} completed on {visit.completed_on}",
                    )
                ],
            )


async def end_guardian_link(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    guardian_user_id: uuid.UUID,
    reason: str,
    context: audit.AuditContext,
) -> None:
    """Stop a guardian's access to the participant (the link stays, inactive, for the record)."""
    link = (
        await session.execute(
            select(GuardianLink).where(
                col(GuardianLink.participant_id) == participant.id,
                col(GuardianLink.guardian_user_id) == guardian_user_id,
                col(GuardianLink.active).is_(True),
            )
        )
    ).scalar_one_or_none()
    if link is None:
        raise NotFound("This guardian is not linked to the participant.")
    link.active = False
    session.add(link)
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="guardian_link.ended",
        subject_type="participant",
        subject_id=participant.id,
        before={"guardian_user_id": guardian_user_id, "relationship": link.relationship, "active": True},
        after={"active": False, "reason": reason},
        context=context,
    )
