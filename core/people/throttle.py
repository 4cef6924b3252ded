"""Login throttling kept in the database, so it holds across processes and replicas: per account and per address.

After `free` failures each further failure doubles the wait (1 s, 2 s, 4 s ... up to the maximum). Failures are
forgotten a day after the last one. The account key is the e-mail as typed (lower-cased), registered or not, so a
throttled answer says nothing about whether an account exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.config import get_settings
from core.errors import Throttled
from core.models.auth import LoginThrottle

ACCOUNT = "account"
ADDRESS = "address"
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class ThrottleKey:
    scope: str
    key: str


def keys_for(*, email: str, address: str | None) -> list[ThrottleKey]:
    keys = [ThrottleKey(ACCOUNT, email.strip().lower()[:320])]
    if address:
        keys.append(ThrottleKey(ADDRESS, address))
    return keys


def _free_failures(scope: str) -> int:
    security = get_settings().security
    return security.login_free_failures if scope == ACCOUNT else security.login_address_free_failures


def delay_after(failures: int, free: int) -> int:
    """Seconds to wait after the `failures`-th consecutive failure (0 while within the free ones)."""
    if failures < free:
        return 0
    return int(min(get_settings().security.login_max_delay_seconds, 2 ** min(failures - free, 30)))


async def check(*, session: AsyncSession, keys: list[ThrottleKey]) -> None:
    """Refuse (429 with the wait) while any of the keys is in its waiting time."""
    now = clock.now()
    waits = []
    for throttle_key in keys:
        row = await _row(session, throttle_key)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            waits.append(row.blocked_until)
    if waits:
        seconds = math.ceil((max(waits) - now).total_seconds())
        raise Throttled(
            f"Too many failed sign-ins; try again in {seconds} seconds.", retry_after_seconds=max(seconds, 1)
        )


async def record_failure(*, session: AsyncSession, keys: list[ThrottleKey]) -> None:
    """Count a failure for each key with one atomic UPDATE (or the first INSERT), safe under concurrency."""
    now = clock.now()
    for throttle_key in keys:
        if not await _increment(session, throttle_key, now):
            try:
                async with session.begin_nested():
                    session.add(
                        LoginThrottle(
                            scope=throttle_key.scope, key=throttle_key.key, failures=0, last_failure_at=now
                        )
                    )
            except IntegrityError:
                pass  # another process inserted it first; the increment below counts ours
            await _increment(session, throttle_key, now)


async def reset(*, session: AsyncSession, key: ThrottleKey) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(col(LoginThrottle.scope) == key.scope, col(LoginThrottle.key) == key.key)
        .values(failures=0, blocked_until=None)
        .execution_options(synchronize_session=False)
    )


async def _row(session: AsyncSession, key: ThrottleKey) -> LoginThrottle | None:
    result = await session.execute(
        select(LoginThrottle)
        .where(col(LoginThrottle.scope) == key.scope, col(LoginThrottle.key) == key.key)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def _increment(session: AsyncSession, key: ThrottleKey, now: datetime) -> bool:
    where = (col(LoginThrottle.scope) == key.scope, col(LoginThrottle.key) == key.key)
    # failures older than FORGET_AFTER start again from zero
    await session.execute(
        update(LoginThrottle)
        .where(*where, col(LoginThrottle.last_failure_at) < now - FORGET_AFTER)
        .values(failures=0, blocked_until=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(LoginThrottle)
        .where(*where)
        .values(failures=col(LoginThrottle.failures) + 1, last_failure_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    row = await _row(session, key)
    assert row is not None
    wait = delay_after(row.failures, _free_failures(key.scope))
    if wait:
        row.blocked_until = now + timedelta(seconds=wait)
        session.add(row)
        await session.flush()
    return True
