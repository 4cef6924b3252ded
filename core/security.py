"""Password hashing and token handling: the only module that imports the hashing and JWT libraries."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from passlib.context import CryptContext

from core.config import get_settings


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
