"""Clinic dashboard sessions: start at sign-in (a new id each time), look up with idle and absolute expiry, end.

The browser holds only a random id; the row keeps its hash. A session ends when it is idle too long, when it is
older than the absolute limit, when it is signed out, or when the user's token_version moves on (signed out of
the API everywhere, password changed, account revoked).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, clock, security
from core.config import get_settings
from core.models.clinic import ClinicSession
from core.models.people import User

# last_seen_at is written at most this often: an idle limit of minutes needs no write per request
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Started:
    token: str  # the cookie's value; never stored
    row: ClinicSession


@dataclass(frozen=True)
class Current:
    user: User
    row: ClinicSession


async def start(
    *, session: AsyncSession, user: User, previous_token: str | None, context: audit.AuditContext
) -> Started:
    """A new session for `user` (already authenticated); the browser's previous session, if any, is revoked,
    so an id planted before sign-in never becomes a signed-in one."""
    if previous_token:
        await _revoke(session, previous_token)
    now = clock.now()
    token, hashed = security.new_token()
    row = ClinicSession(
        token_hash=hashed,
        user_id=user.id,
        token_version=user.token_version,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=get_settings().security.clinic_absolute_hours),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session=session,
        actor_id=user.id,
        action="clinic.signed_in",
        subject_type="clinic_session",
        subject_id=row.id,
        context=context,
    )
    return Started(token, row)


async def current(*, session: AsyncSession, token: str | None) -> Current | None:
    """The live session of this id and its user, or None (unknown, revoked, idle, too old, user revoked)."""
    if not token or len(token) > 200:
        return None
    row: ClinicSession | None = await security.by_token(session, ClinicSession.token_hash, token)
    if row is None or row.revoked_at is not None:
        return None
    now = clock.now()
    idle = timedelta(minutes=get_settings().security.clinic_idle_minutes)
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.active or user.token_version != row.token_version:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
        await session.flush()
    return Current(user, row)


async def end(*, session: AsyncSession, token: str | None, context: audit.AuditContext) -> None:
    """Sign out: the session is revoked at once (its id is refused from now on) and the sign-out audited."""
    row = await _revoke(session, token) if token else None
    if row is not None:
        await audit.record(
            session=session,
            actor_id=row.user_id,
            action="clinic.signed_out",
            subject_type="clinic_session",
            subject_id=row.id,
            context=context,
        )


async def _revoke(session: AsyncSession, token: str) -> ClinicSession | None:
    row: ClinicSession | None = await security.by_token(session, ClinicSession.token_hash, token)
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.add(row)
        await session.flush()
        return row
    return None
