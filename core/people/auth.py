"""Signing in and out: password login with throttling, token refresh, logout, password change, who am I."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock, security
from core.access import Actor
from core.errors import FieldProblem, Forbidden, NotAuthenticated
from core.models.people import Role, User
from core.models.study import GuardianLink, Participant
from core.people import throttle
from core.people.passwords import check_password
from core.people.service import find_user_by_email

WRONG_LOGIN = "The e-mail or password is wrong."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class LoggableParticipant:
    id: uuid.UUID
    subject_code: str
    relationship: str


async def _audit(
    session: AsyncSession,
    action: str,
    *,
    user_id: uuid.UUID | None,
    context: audit.AuditContext,
    subject: uuid.UUID | str | None = None,
) -> None:
    """The audit row of a sign-in event: the user acts on their own account (or the e-mail tried)."""
    await audit.record(
        session=session,
        actor_id=user_id,
        action=action,
        subject_type="user",
        subject_id=subject if subject is not None else user_id,
        context=context,
    )


async def _pair(*, session: AsyncSession, user: User, family_id: uuid.UUID | None = None) -> TokenPair:
    access, lifetime = security.issue_access_token(user_id=user.id, token_version=user.token_version)
    refresh, _ = await security.issue_refresh_token(session=session, user_id=user.id, family_id=family_id)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=lifetime)


async def login(
    *, session: AsyncSession, email: str, password: str, context: audit.AuditContext
) -> TokenPair:
    """A token pair for a correct e-mail and password; unknown e-mail and wrong password are the same 401."""
    user = await authenticate(session=session, email=email, password=password, context=context)
    return await _pair(session=session, user=user)


async def authenticate(
    *, session: AsyncSession, email: str, password: str, context: audit.AuditContext
) -> User:
    """The user of a correct e-mail and password, throttled and audited; the API's token login and the clinic
    dashboard's sign-in both go through it, so both count the same failures."""
    keys = throttle.keys_for(email=email, address=context.client_address)
    await throttle.check(session=session, keys=keys)
    user = await find_user_by_email(session=session, email=email)
    correct = await security.verify_password_or_dummy(password, user.password_hash if user else None)
    if user is None or not correct or not user.active:
        await throttle.record_failure(session=session, keys=keys)
        await _audit(
            session,
            "auth.login_failed",
            user_id=user.id if user else None,
            context=context,
            subject=user.id if user else email.strip().lower()[:320],
        )
        raise NotAuthenticated(WRONG_LOGIN, keep_changes=True)
    await throttle.reset(session=session, key=keys[0])
    user.last_login_at = clock.now()
    session.add(user)
    await _audit(session, "auth.login", user_id=user.id, context=context)
    return user


async def refresh(*, session: AsyncSession, refresh_token: str, context: audit.AuditContext) -> TokenPair:
    """Spend a refresh token for a new pair (same family); a spent one revokes the family (401)."""
    user, successor = await security.rotate_refresh_token(
        session=session, value=refresh_token, context=context
    )
    access, lifetime = security.issue_access_token(user_id=user.id, token_version=user.token_version)
    return TokenPair(access_token=access, refresh_token=successor, expires_in=lifetime)


async def logout(*, session: AsyncSession, user: User, context: audit.AuditContext) -> None:
    """End every session of the user: access tokens (version bump) and all refresh families."""
    await security.revoke_all_tokens(session=session, user=user)
    await _audit(session, "auth.logout", user_id=user.id, context=context)


async def change_password(
    *,
    session: AsyncSession,
    user: User,
    current_password: str,
    new_password: str,
    context: audit.AuditContext,
) -> None:
    """Replace the password after checking the current one; every token of the user stops working."""
    keys = throttle.keys_for(email=user.email, address=context.client_address)
    await throttle.check(session=session, keys=keys)
    if not await security.verify_password(current_password, user.password_hash):
        await throttle.record_failure(session=session, keys=keys)
        await _audit(session, "auth.password_change_failed", user_id=user.id, context=context)
        raise Forbidden(
            "The current password is wrong.",
            fields=[FieldProblem("current_password", "does not match")],
            keep_changes=True,
        )
    check_password(new_password, field="new_password", user_inputs=[user.email, user.email.partition("@")[0]])
    user.password_hash = await security.hash_password(new_password)
    user.password_changed_at = clock.now()
    await security.revoke_all_tokens(session=session, user=user)
    await _audit(session, "auth.password_changed", user_id=user.id, context=context)


async def loggable_participants(*, session: AsyncSession, actor: Actor) -> list[LoggableParticipant]:
    """The participants this login may log for: themself (participant) or actively linked children (guardian)."""
    if actor.role is Role.participant:
        rows = await session.execute(
            select(Participant.id, Participant.subject_code).where(col(Participant.user_id) == actor.user_id)
        )
        return [
            LoggableParticipant(id=pid, subject_code=code, relationship="self") for pid, code in rows.all()
        ]
    if actor.role is Role.guardian:
        linked = await session.execute(
            select(Participant.id, Participant.subject_code, GuardianLink.relationship)
            .join(GuardianLink, col(GuardianLink.participant_id) == col(Participant.id))
            .where(col(GuardianLink.guardian_user_id) == actor.user_id, col(GuardianLink.active).is_(True))
            .order_by(col(Participant.subject_code))
        )
        return [
            LoggableParticipant(id=pid, subject_code=code, relationship=rel)
            for pid, code, rel in linked.all()
        ]
    return []
