"""Password hashing and token handling: the only module that imports the hashing and JWT libraries."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from jose import jwt
from jose.exceptions import JOSEError
from passlib.context import CryptContext

from core import clock
from core.config import get_settings
from core.errors import NotAuthenticated


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
    """Verify an access token; any defect is NotAuthenticated (a 401), never an unexpected error."""
    settings = get_settings()
    refused = NotAuthenticated("The access token is missing, invalid or expired; sign in again.")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or "crit" in header:
            raise refused
        claims = jwt.decode(
            token,
            settings.jwt_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.security.jwt_audience,
            issuer=settings.security.jwt_issuer,
            options={
                "verify_exp": False,  # checked below against core.clock
                "verify_iat": True,
                "require_aud": True,
                "require_iat": True,
                "require_exp": True,
                "require_iss": True,
                "require_sub": True,
                "require_jti": True,
            },
        )
    except (JOSEError, ValueError, TypeError, KeyError, AttributeError):
        raise refused from None
    if any(name not in claims for name in _REQUIRED_CLAIMS) or claims["typ"] != ACCESS_TYPE:
        raise refused
    now = clock.now().timestamp()
    skew = settings.security.clock_skew_seconds
    try:
        issued_at, expires_at = float(claims["iat"]), float(claims["exp"])
        user_id = uuid.UUID(str(claims["sub"]))
        version = int(claims["ver"])
    except (TypeError, ValueError):
        raise refused from None
    if issued_at > now + skew or expires_at <= now - skew or expires_at <= issued_at:
        raise refused
    return AccessClaims(
        user_id=user_id,
        token_version=version,
        token_id=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )


def new_opaque_token() -> str:
    """A random value for refresh tokens and invitation codes (only its hash is ever stored)."""
    return secrets.token_urlsafe(32)


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
