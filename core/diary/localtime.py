"""Participant-local days: the offset an entry was sent with decides which calendar day it counts on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def offset_minutes(moment: datetime) -> int:
    """The UTC offset `moment` carries, in whole minutes (east positive)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a time without a UTC offset has no local day")
    return int(offset.total_seconds() // 60)


def local_date(moment_utc: datetime, offset_min: int) -> date:
    """The participant's calendar day of an instant, given the offset they were living in."""
    return (moment_utc.astimezone(UTC) + timedelta(minutes=offset_min)).date()


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC start and end (exclusive) of a local calendar day in a zone; 23 or 25 hours across DST."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
