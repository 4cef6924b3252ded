"""Factories for test data: create_x(session, **overrides), flushed, never committed."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import security
from core.models.people import Role, User

_counter = itertools.count(1)
DEFAULT_PASSWORD = "Quiet-Meadow-Lantern-73"


async def create_user(session: AsyncSession, **overrides: Any) -> User:
    n = next(_counter)
    password = overrides.pop("password", DEFAULT_PASSWORD)
    values: dict[str, Any] = {
        "email": f"user{n}@example.org",
        "role": Role.participant,
        "password_hash": security.hash_password_sync(password),
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    return user
