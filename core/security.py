"""Password hashing and token handling: the only module that imports the hashing and JWT libraries."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NoReturn

from jose import jwt
from jose.exceptions import JOSEError
from passlib.context import CryptContext
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.config import get_settings
from core.errors import NotAuthenticated
from core.models.auth import RefreshToken
from core.models.people import User


@lru_cache
def _password_context() -> CryptContext:
    security = get_settings().security
    return CryptContext(
        schemes=["argon2"],
        argon2__time_cost=security.argon2_time_cost,
        argon2__memory_cost=security.argon2_memory_kib,
        argon2__parallelism=security.argon2_parallelism,
    )


def hash_password_sync(password: str) -> str:
    return _password_context().hash(password)


def verify_password_sync(password: str, password_hash: str) -> bool:
    try:
        return _password_context().verify(password, password_hash)
    except (ValueError, TypeError):
        return False


async def hash_password(password: str) -> str:
    """Argon2 hash, computed off the event loop (it is deliberately slow)."""
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, password_hash)


@lru_cache
def _dummy_hash() -> str:
    return hash_password_sync(secrets.token_urlsafe(24))


async def verify_password_or_dummy(password: str, password_hash: str | None) -> bool:
    """Verify against the account's hash, or a dummy one when there is no account: the same work either way,
    so the answer's timing does not tell whether an e-mail is registered."""
    if password_hash is None:
        await asyncio.to_thread(verify_password_sync, password, _dummy_hash())
        return False
    return await verify_password(password, password_hash)


# ---- access tokens -------------------------------------------------------------------------------------------
# Hardening: one algorithm, every registered claim required, our own exp/iat checks against core.clock, refusal
# of any `crit` header (we implement no JWS extensions), and every JOSE failure turned into NotAuthenticated.

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
_REQUIRED_CLAIMS = ("sub", "exp", "iat", "aud", "iss", "jti", "typ", "ver")


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int
    token_id: str
    expires_at: datetime


def issue_access_token(*, user_id: uuid.UUID, token_version: int) -> tuple[str, int]:
    """A signed access JWT for the user and its lifetime in seconds."""
    settings = get_settings()
    issued = clock.now()
    lifetime = settings.security.access_token_minutes * 60
    claims = {
        "sub": str(user_id),
        "iat": int(issued.timestamp()),
        "exp": int(issued.timestamp()) + lifetime,
        "aud": settings.security.jwt_audience,
        "iss": settings.security.jwt_issuer,
        "jti": secrets.token_urlsafe(16),
        "typ": ACCESS_TYPE,
        "ver": token_version,
    }
    token = jwt.encode(claims, settings.jwt_secret_value(), algorithm=ALGORITHM, headers={"typ": "JWT"})
    return token, lifetime


def decode_access_token(token: str) -> AccessClaims:
    """Verify an access token; any defect is NotAuthenticated (a 401), never an unexpected error.

    The header, signature and claims are verified on every call (about 30 us, under 2 % of a diary POST: a
    cache of verified tokens measured -5 % to +31 % on the POST between two quiet `make bench` runs, never
    clearly above issue 9's 10 %, so it went); the times are checked against core.clock.
    """
    settings = get_settings()
    refused = NotAuthenticated("The access token is missing, invalid or expired; sign in again.")
    try:
        issued_at, expires_at, user_id, version, token_id = _verified_token(
            token,
            settings.jwt_secret_value(),
            settings.security.jwt_audience,
            settings.security.jwt_issuer,
        )
    except _Refused:
        raise refused from None
    now = clock.now().timestamp()
    skew = settings.security.clock_skew_seconds
    if issued_at > now + skew or expires_at <= now - skew or expires_at <= issued_at:
        raise refused
    return AccessClaims(
        user_id=user_id,
        token_version=version,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )


class _Refused(Exception):
    pass


def _verified_token(
    token: str, secret: str, audience: str, issuer: str
) -> tuple[float, float, uuid.UUID, int, str]:
    """(iat, exp, user id, token version, jti) of a token whose header, signature and claims are sound.

    Any defect raises _Refused.
    """
    try:
        header = jwt.get_unverified_header(token)
        # we sign with one key and no extensions: a `kid` names a key we do not have, `crit` an extension we
        # do not implement, and any other header member is not ours either
        if header.get("alg") != ALGORITHM or not set(header) <= _HEADER_MEMBERS:
            raise _Refused
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                # exp and iat are checked by decode_access_token against core.clock, and their presence by
                # _REQUIRED_CLAIMS below: jose's require_exp also checks exp against the wall clock, which
                # refused every token issued under a clock set in the past (tests, replays of a trial day)
                "verify_exp": False,
                "verify_iat": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
                "require_jti": True,
            },
        )
    except (JOSEError, ValueError, TypeError, KeyError, AttributeError):
        raise _Refused from None
    if any(name not in claims for name in _REQUIRED_CLAIMS) or claims["typ"] != ACCESS_TYPE:
        raise _Refused
    # every claim of the type we issue, nothing converted: jose accepts an `aud` list holding our audience
    # and leaves exp's type to us, and a string or a huge number was read as a time (a 500 past year 9999)
    iat, exp, ver = claims["iat"], claims["exp"], claims["ver"]
    if not (_is_time(iat) and _is_time(exp) and _is_int(ver)) or not isinstance(claims["aud"], str):
        raise _Refused
    if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
        raise _Refused
    try:
        return float(iat), float(exp), uuid.UUID(claims["sub"]), ver, claims["jti"]
    except ValueError:
        raise _Refused from None


_HEADER_MEMBERS = frozenset({"alg", "typ"})
_LATEST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z: the last second a datetime can hold


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value: object) -> bool:
    """A NumericDate as we issue it: whole seconds since 1970 that a datetime can hold."""
    return _is_int(value) and 0 <= value <= _LATEST_TIME  # type: ignore[operator]


def new_opaque_token() -> str:
    """A random value for refresh tokens and invitation codes (only its hash is ever stored)."""
    return secrets.token_urlsafe(32)


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(a new opaque value for the caller to hand out once, the hash to store in its place)."""
    value = new_opaque_token()
    return value, token_hash(value)


async def by_token(session: AsyncSession, column: Any, value: str) -> Any | None:
    """The row whose stored hash (`column`, e.g. `RefreshToken.token_hash`) is the hash of `value`, or None."""
    model = column.class_
    return (await session.execute(select(model).where(col(column) == token_hash(value)))).scalar_one_or_none()


# ---- refresh tokens ------------------------------------------------------------------------------------------
# Opaque random values; only their SHA-256 is stored. Each use spends the token and issues its successor in the
# same family. A spent token presented again means it was stolen, so the whole family dies (RFC 9700 section
# 4.14.2) and the event is audited -- unless it comes back within `refresh_race_seconds` of its rotation: a
# phone that sent two refreshes at once (two tabs, a retry after a timeout) is racing itself, and revoking the
# family would sign out the winner too. The loser gets a 401 and the winner's new pair keeps working.

_REFRESH_REFUSED = "The refresh token is invalid, expired or already used; sign in again."


async def issue_refresh_token(
    *, session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID | None = None
) -> tuple[str, RefreshToken]:
    """A new refresh token (the value, shown once, and its stored row), starting a family unless given one."""
    value, hashed = new_token()
    row = RefreshToken(
        token_hash=hashed,
        family_id=family_id or uuid.uuid4(),
        user_id=user_id,
        expires_at=clock.now() + timedelta(days=get_settings().security.refresh_token_days),
    )
    session.add(row)
    await session.flush()
    return value, row


async def rotate_refresh_token(
    *, session: AsyncSession, value: str, context: audit.AuditContext | None = None
) -> tuple[User, str]:
    """Spend `value` and return its user and the successor token; a reused token revokes its family."""
    refused = NotAuthenticated(_REFRESH_REFUSED)
    row: RefreshToken | None = await by_token(session, RefreshToken.token_hash, value)
    now = clock.now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise refused
    # the conditional UPDATE is the arbiter between concurrent refreshes: exactly one sees rowcount 1
    spent = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == row.id,
            col(RefreshToken.used_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await _refuse_spent(session=session, row=row, now=now, context=context)
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise refused
    successor, new_row = await issue_refresh_token(
        session=session, user_id=row.user_id, family_id=row.family_id
    )
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.id) == row.id)
        .values(replaced_by=new_row.id)
        .execution_options(synchronize_session=False)
    )
    return user, successor


async def _refuse_spent(
    *, session: AsyncSession, row: RefreshToken, now: datetime, context: audit.AuditContext | None
) -> NoReturn:
    """The token was spent (or revoked) meanwhile: a race inside the grace window, theft outside it."""
    # read again: the row loaded above may predate the concurrent rotation that won the conditional UPDATE
    used_at, revoked_at = (
        await session.execute(
            select(RefreshToken.used_at, RefreshToken.revoked_at).where(col(RefreshToken.id) == row.id)
        )
    ).one()
    grace = timedelta(seconds=get_settings().security.refresh_race_seconds)
    if revoked_at is not None or (used_at is not None and now - used_at <= grace):
        raise NotAuthenticated(_REFRESH_REFUSED)
    await revoke_refresh_family(session=session, family_id=row.family_id)
    await audit.record(
        session=session,
        actor_id=row.user_id,
        action="auth.refresh_token_reused",
        subject_type="user",
        subject_id=row.user_id,
        after={"family_id": row.family_id, "revoked": True, "spent_at": used_at},
        context=context,
    )
    raise NotAuthenticated(_REFRESH_REFUSED, keep_changes=True)


async def revoke_refresh_family(*, session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=clock.now())
        .execution_options(synchronize_session=False)
    )


async def revoke_all_tokens(*, session: AsyncSession, user: User) -> None:
    """Sign the user out everywhere: every access token (version bump) and every refresh family."""
    user.token_version += 1
    session.add(user)
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    await session.flush()
