"""Changes to an enrolled participant after enrolment: status, time zone, guardian links — each audited."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.access import Actor
from core.errors import FieldProblem, InvalidInput, NotFound
from core.models.study import GuardianLink, Participant, ParticipantStatus
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
) -> ParticipantView:
    """Change status (forward only) or time zone of a participant in the actor's scope, with a reason."""
    before = {"status": participant.status, "timezone": participant.timezone}
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
    after = {"status": participant.status, "timezone": participant.timezone}
    if after != before:
        session.add(participant)
        await session.flush()
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
