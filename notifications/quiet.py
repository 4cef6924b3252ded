"""Quiet hours: when a user's local quiet period ends, if it holds now (pure; no database, no clock)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_hhmm(text: str) -> time:
    """'22:00' -> time(22, 0); ValueError on anything else."""
    hours, _, minutes = text.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{text!r} is not HH:MM")
    return time(int(hours), int(minutes))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(now: datetime, start: str | None, end: str | None, timezone: str | None) -> datetime | None:
    """The aware UTC moment the quiet period holding `now` ends, or None when `now` is not quiet.

    The period runs from `start` to `end` local time and may cross midnight (22:00-07:00). Local times are
    read on the user's wall clock, so a DST change moves the end with the clock, as the user expects.
    """
    if not start or not end or start == end:
        return None
    tz = zone(timezone)
    local = now.astimezone(tz)
    begin, finish = parse_hhmm(start), parse_hhmm(end)
    clock_now = local.time().replace(tzinfo=None)
    if begin < finish:
        quiet = begin <= clock_now < finish
        end_day = local.date()
    else:  # crosses midnight
        quiet = clock_now >= begin or clock_now < finish
        end_day = local.date() + timedelta(days=1) if clock_now >= begin else local.date()
    if not quiet:
        return None
    ends = datetime.combine(end_day, finish, tzinfo=tz)
    return ends.astimezone(now.tzinfo)
