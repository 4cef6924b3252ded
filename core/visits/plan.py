"""Visit plan arithmetic (pure): month offsets on the participant's calendar, windows, reminder moments."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.protocol import VisitPlan


@dataclass(frozen=True)
class PlannedVisit:
    """One visit of the plan: `label` "M3" for month 3; all dates are the participant's local dates."""

    label: str
    month: int
    target_date: date
    window_start: date
    window_end: date


def add_months(day0: date, months: int) -> date:
    """The same day of the month `months` later; a day the month lacks falls on its last day.

    31 January + 1 month is 28 February (29 in a leap year), never 3 March: a visit stays in its month.
    """
    total = day0.month - 1 + months
    year, month = day0.year + total // 12, total % 12 + 1
    return date(year, month, min(day0.day, calendar.monthrange(year, month)[1]))


def label_for(month: int) -> str:
    return f"M{month}"


def plan_visits(treatment_date: date, plan: VisitPlan) -> list[PlannedVisit]:
    """Every visit of `plan` for a participant whose day 0 is `treatment_date`, in date order."""
    window = timedelta(days=plan.window_days)
    visits = []
    for month in plan.months:
        target = add_months(treatment_date, month)
        visits.append(PlannedVisit(label_for(month), month, target, target - window, target + window))
    return visits


def local_moment(day: date, at: time, timezone: str) -> datetime:
    """`day` at civil time `at` in `timezone`, as UTC. A civil time that a DST change skips (02:30 on the
    spring-forward night) is read with the offset before the change, i.e. an hour later on the wall clock."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def local_now(moment: datetime, timezone: str) -> datetime:
    """`moment` on the participant's wall clock."""
    return moment.astimezone(ZoneInfo(timezone))


def local_today(moment: datetime, timezone: str) -> date:
    """The participant's calendar date at `moment`."""
    return local_now(moment, timezone).date()


def reminder_moments(target_date: date, plan: VisitPlan, timezone: str) -> list[tuple[int, datetime]]:
    """(days before, when) for each reminder of a visit on `target_date`, at the plan's local time of day."""
    return [
        (days, local_moment(target_date - timedelta(days=days), plan.reminder_local_time, timezone))
        for days in plan.reminder_days_before
    ]


def reminder_due(
    target_date: date, plan: VisitPlan, timezone: str, now: datetime
) -> tuple[int, datetime] | None:
    """The one reminder to send at `now` for a visit on `target_date`, or None.

    A reminder is due once its moment has passed while the visit is still ahead (its local day not yet begun).
    After downtime only the latest due reminder goes out: a 7-day reminder found late, when the 1-day one is
    due as well, is stale and is not sent; nor is any reminder once the visit's day has come.
    """
    if local_today(now, timezone) >= target_date:
        return None
    due = [(days, moment) for days, moment in reminder_moments(target_date, plan, timezone) if moment <= now]
    return min(due, key=lambda pair: pair[0]) if due else None
