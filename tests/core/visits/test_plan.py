"""Visit plan arithmetic against hand-worked calendars: month ends, leap years, DST for reminder moments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from core.protocol import VisitPlan
from core.visits.plan import add_months, plan_visits, reminder_due, reminder_moments


@pytest.mark.parametrize(
    ("day0", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # 2028 is a leap year
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # across a year end
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # a leap day one year on
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2026, 3, 15), 24, date(2028, 3, 15)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
    ],
)
def test_months_fall_on_the_same_day_or_the_months_last_day(day0: date, months: int, expected: date) -> None:
    assert add_months(day0, months) == expected


def test_the_default_plan_from_a_31st() -> None:
    visits = plan_visits(date(2026, 1, 31), VisitPlan())
    assert [(v.label, v.target_date) for v in visits] == [
        ("M1", date(2026, 2, 28)),
        ("M2", date(2026, 3, 31)),
        ("M3", date(2026, 4, 30)),
        ("M6", date(2026, 7, 31)),
        ("M9", date(2026, 10, 31)),
        ("M12", date(2027, 1, 31)),
        ("M15", date(2027, 4, 30)),
        ("M18", date(2027, 7, 31)),
        ("M21", date(2027, 10, 31)),
        ("M24", date(2028, 1, 31)),
    ]
    m1 = visits[0]
    # +-7 days around 28 February 2026 (not a leap year)
    assert (m1.window_start, m1.window_end) == (date(2026, 2, 21), date(2026, 3, 7))


def test_a_protocol_plan_with_other_months_and_window() -> None:
    visits = plan_visits(date(2026, 5, 10), VisitPlan(months=(6, 12), window_days=14))
    assert [(v.label, v.window_start, v.target_date, v.window_end) for v in visits] == [
        ("M6", date(2026, 10, 27), date(2026, 11, 10), date(2026, 11, 24)),
        ("M12", date(2027, 4, 26), date(2027, 5, 10), date(2027, 5, 24)),
    ]


def test_reminders_keep_the_civil_hour_across_a_dst_change() -> None:
    # Ljubljana moves to CEST on 29 March 2026: 09:00 is 07:00 UTC that day, 08:00 UTC a week before
    assert reminder_moments(date(2026, 3, 30), VisitPlan(), "Europe/Ljubljana") == [
        (7, datetime(2026, 3, 23, 8, 0, tzinfo=UTC)),
        (1, datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
    ]
    # New York moves to EDT on 8 March 2026: 09:00 EST = 14:00 UTC, 09:00 EDT = 13:00 UTC
    assert reminder_moments(date(2026, 3, 9), VisitPlan(), "America/New_York") == [
        (7, datetime(2026, 3, 2, 14, 0, tzinfo=UTC)),
        (1, datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
    ]


def test_a_reminder_time_the_spring_change_skips_is_sent_an_hour_later() -> None:
    plan = VisitPlan(reminder_days_before=(1,), reminder_local_time=time(2, 30))
    # 02:30 does not exist in Ljubljana on 29 March 2026; read with the winter offset it is 01:30 UTC (03:30 CEST)
    assert reminder_moments(date(2026, 3, 30), plan, "Europe/Ljubljana") == [
        (1, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    ]


def test_only_the_latest_due_reminder_goes_out_and_none_once_the_visit_day_came() -> None:
    plan, zone, visit_day = VisitPlan(), "Europe/Ljubljana", date(2026, 3, 30)
    assert reminder_due(visit_day, plan, zone, datetime(2026, 3, 23, 7, 59, tzinfo=UTC)) is None
    assert reminder_due(visit_day, plan, zone, datetime(2026, 3, 23, 8, 0, tzinfo=UTC)) == (
        7,
        datetime(2026, 3, 23, 8, 0, tzinfo=UTC),
    )
    # back after downtime on the day before: the 7-day reminder is stale, the 1-day one is due
    assert reminder_due(visit_day, plan, zone, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))[0] == 1  # type: ignore[index]
    # 22:00 UTC on the 29th is midnight of the 30th in Ljubljana: the visit day has come
    assert reminder_due(visit_day, plan, zone, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)) is None


def test_a_plan_refuses_unordered_reminders() -> None:
    with pytest.raises(ValueError, match="reminder_days_before"):
        VisitPlan(reminder_days_before=(1, 7))
