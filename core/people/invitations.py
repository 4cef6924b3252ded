"""Onboarding a phone: staff make a single-use, expiring code; the participant or a guardian redeems it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock, security
from core.access import Actor
from core.config import get_settings
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from core.models.auth import Invitation
from core.models.people import ParticipantOrGuardian, Role, User
from core.models.study import GuardianLink, Participant
from core.people import service as people_service

INVITABLE_ROLES = (Role.participant, Role.guardian)


@dataclass(frozen=True)
class IssuedInvitation:
    code: str  # shown once; only its hash is stored
    expires_at: datetime


async def create_invitation(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    role: Role,
    relationship: str | None,
    context: audit.AuditContext,
) -> IssuedInvitation:
    """A new code for `participant`'s own login or for a guardian's."""
    if role is Role.participant:
        if participant.user_id is not None:
            raise Conflict(
                f"Participant {participant.subject_code} already has a login.",
                fields=[FieldProblem("role", "participant already has a login")],
            )
        relationship = "self"
    elif not relationship:
        raise _invalid("relationship", "required for a guardian invitation (e.g. mother, father, carer)")
    code, hashed = security.new_token()
    expires_at = clock.now() + timedelta(days=get_settings().security.invitation_days)
    invitation = Invitation(
        code_hash=hashed,
        participant_id=participant.id,
        role=ParticipantOrGuardian(role),
        relationship=relationship or "self",
        created_by=actor.user_id,
        expires_at=expires_at,
    )
    session.add(invitation)
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="invitation.created",
        subject_type="participant",
        subject_id=participant.id,
        after={"invitation_id": invitation.id, "role": role, "relationship": invitation.relationship},
        context=context,
    )
    return IssuedInvitation(code=code, expires_at=expires_at)


async def redeem(
    *, session: AsyncSession, code: str, email: str, password: str, context: audit.AuditContext
) -> User:
    """Create the login the code was made for (or link an existing guardian account); the code is then spent."""
    invitation: Invitation | None = await security.by_token(session, Invitation.code_hash, code)
    now = clock.now()
    if invitation is None or invitation.expires_at <= now:
        raise NotFound("This invitation code is unknown or has expired; ask the study team for a new one.")
    if invitation.used_at is not None:
        raise Conflict("This invitation code has already been used.")
    participant = await session.get(Participant, invitation.participant_id)
    assert participant is not None
    role = Role(invitation.role)

    user: User | None = None
    if role is Role.guardian:
        existing = await people_service.find_user_by_email(session=session, email=email)
        if existing is not None and existing.role == Role.guardian:
            # a guardian of several children keeps one login: the password proves it is theirs
            if not await security.verify_password(password, existing.password_hash):
                raise Conflict(
                    f"An account with e-mail {existing.email} exists; give its password to link it.",
                    fields=[FieldProblem("email", "already registered")],
                )
            user = existing
    elif participant.user_id is not None:
        raise Conflict(f"Participant {participant.subject_code} already has a login.")
    if user is None:
        user = await people_service.create_user(session=session, email=email, password=password, role=role)

    # single use even under concurrency: only one redemption sees the code unspent
    spent = await session.execute(
        update(Invitation)
        .where(col(Invitation.id) == invitation.id, col(Invitation.used_at).is_(None))
        .values(used_at=now, used_by=user.id)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This invitation code has already been used.")

    if role is Role.participant:
        participant.user_id = user.id
        session.add(participant)
        change: dict[str, object] = {"participant_id": participant.id, "user_id": user.id}
    else:
        await _link_guardian(
            session=session, guardian=user, participant=participant, relationship=invitation.relationship
        )
        change = {
            "participant_id": participant.id,
            "guardian_user_id": user.id,
            "relationship": invitation.relationship,
        }
    await session.flush()
    await audit.record(
        session=session,
        actor_id=user.id,
        action="invitation.redeemed",
        subject_type="participant",
        subject_id=participant.id,
        after={"invitation_id": invitation.id, "role": role, **change},
        context=context,
    )
    return user


async def _link_guardian(
    *, session: AsyncSession, guardian: User, participant: Participant, relationship: str
) -> None:
    link = (
        await session.execute(
            select(GuardianLink).where(
                col(GuardianLink.guardian_user_id) == guardian.id,
                col(GuardianLink.participant_id) == participant.id,
            )
        )
    ).scalar_one_or_none()
    if link is None:
        session.add(
            GuardianLink(
                guardian_user_id=guardian.id, participant_id=participant.id, relationship=relationship
            )
        )
    else:
        link.active = True
        link.relationship = relationship
        session.add(link)


def _invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}.", fields=[FieldProblem(path, message)])
