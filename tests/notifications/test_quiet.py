"""Quiet hours (pure): periods crossing midnight, the end on the user's wall clock across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime

from notifications.quiet import quiet_until


def test_a_period_across_midnight_ends_next_morning_local_time() -> None:
    # 23:30 UTC on 2 March = 00:30 in Ljubljana (CET): quiet until 07:00 CET = 06:00 UTC
    assert quiet_until(
        datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "22:00", "07:00", "Europe/Ljubljana"
    ) == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    # 21:30 UTC = 22:30 local, before midnight: the end is the next day's 07:00
    assert quiet_until(
        datetime(2026, 3, 2, 21, 30, tzinfo=UTC), "22:00", "07:00", "Europe/Ljubljana"
    ) == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    # 12:00 local is not quiet
    assert quiet_until(datetime(2026, 3, 2, 11, 0, tzinfo=UTC), "22:00", "07:00", "Europe/Ljubljana") is None


def test_the_end_follows_the_wall_clock_over_a_dst_change() -> None:
    # the night of 28/29 March 2026 Ljubljana moves from CET (UTC+1) to CEST (UTC+2): 07:00 CEST = 05:00 UTC
    assert quiet_until(
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "22:00", "07:00", "Europe/Ljubljana"
    ) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_a_daytime_period_and_no_period() -> None:
    assert quiet_until(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "13:00", "14:00", "UTC") is None
    assert quiet_until(datetime(2026, 3, 2, 13, 30, tzinfo=UTC), "13:00", "14:00", "UTC") == datetime(
        2026, 3, 2, 14, 0, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 3, 2, 13, 30, tzinfo=UTC), None, None, "UTC") is None
