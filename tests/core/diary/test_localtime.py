"""Local days: an entry counts on the participant's calendar day in the offset it was lived in, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.diary import localtime
from core.diary.units import to_mg_dl


def test_late_evening_counts_on_the_local_day_on_both_dst_changes() -> None:
    # Europe/Ljubljana: summer time starts 2026-03-29 02:00 (+01 -> +02) and ends 2026-10-25 03:00 (+02 -> +01)
    cases = [
        (datetime.fromisoformat("2026-03-28T23:30:00+01:00"), date(2026, 3, 28)),
        (datetime.fromisoformat("2026-03-29T23:30:00+02:00"), date(2026, 3, 29)),
        (datetime.fromisoformat("2026-10-24T23:30:00+02:00"), date(2026, 10, 24)),
        (datetime.fromisoformat("2026-10-25T23:30:00+01:00"), date(2026, 10, 25)),
        # just after midnight local is still the previous day in UTC, and counts on the local day
        (datetime.fromisoformat("2026-03-30T00:30:00+02:00"), date(2026, 3, 30)),
        (datetime.fromisoformat("2026-10-26T00:30:00+01:00"), date(2026, 10, 26)),
    ]
    for moment, day in cases:
        utc = moment.astimezone(UTC)
        assert localtime.local_date(utc, localtime.offset_minutes(moment)) == day


def test_local_days_around_dst_are_23_and_25_hours_long() -> None:
    start, end = localtime.day_bounds(date(2026, 3, 29), "Europe/Ljubljana")
    assert (start, end) == (
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
    )
    start, end = localtime.day_bounds(date(2026, 10, 25), "Europe/Ljubljana")
    assert (end - start).total_seconds() == 25 * 3600


def test_canonical_mg_dl() -> None:
    assert to_mg_dl(5.8, "mmol/L", 18.016) == 104.493  # 5.8 x 18.016
    assert to_mg_dl(3.0, "mmol/L", 18.016) == 54.048
    assert to_mg_dl(97, "mg/dL", 18.016) == 97.0
