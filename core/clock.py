"""The one place that reads the wall clock; tests move it with `clock.set_now`/`clock.advance`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def set_now(moment: datetime | None) -> None:
    """Freeze the clock at `moment` (aware), or release it with None."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the frozen clock needs a timezone-aware datetime")
    _frozen = moment.astimezone(UTC) if moment is not None else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (freezing it at the real time first if needed)."""
    set_now(now() + delta)
    return now()
