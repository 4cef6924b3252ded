"""Dose-review pattern rules over the participant's local days: pure functions over plain data.

Each rule answers a Suggestion (what to review, the evidence, the context) or None. They suggest to a
clinician only; nothing here changes or advises a dose (CLINICAL.md A4).
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from core.models.alerts import AlertKind, Severity
from core.protocol import DoseReviewRules, EpisodeRules
from core.rules import classify as c


@dataclass(frozen=True)
class Reading:
    entry_id: uuid.UUID
    occurred_at: datetime
    local_date: date
    value: float
    unit: str
    value_mg_dl: float
    context: str
    flags: frozenset[str]
    meal_type: str | None = None

    @property
    def is_hypo(self) -> bool:
        return bool(self.flags & c.HYPO_FLAGS)

    @property
    def valid_fasting(self) -> bool:
        return self.context == "fasting" and c.FASTING_AFTER_MEAL not in self.flags


@dataclass(frozen=True)
class HypoReport:
    entry_id: uuid.UUID
    occurred_at: datetime
    local_date: date
    severe: bool


@dataclass
class DaySummary:
    """One local day of readings, counted (the database sums these per day; tests build them from readings)."""

    fasting_n: int = 0  # valid fasting readings (no meal in the hours before)
    fasting_above: int = 0
    fasting_below: int = 0
    fasting_sum_mg_dl: float = 0.0
    hypo_n: int = 0
    level2_n: int = 0

    def add(self, r: Reading) -> None:
        if r.valid_fasting:
            self.fasting_n += 1
            self.fasting_sum_mg_dl += r.value_mg_dl
            self.fasting_above += c.FASTING_ABOVE in r.flags
            self.fasting_below += c.FASTING_BELOW in r.flags
        self.hypo_n += r.is_hypo
        self.level2_n += c.HYPO_L2 in r.flags


@dataclass
class Window:
    """What the rules see up to `today` (the trigger's local day): per-day counts, the readings that matter one
    by one (lows, postprandial highs, the entries being evaluated), self-reports, illness and exercise days.

    Built from `readings` alone (tests), `summaries` are counted from them; the database fills both itself.
    """

    today: date
    readings: list[Reading] = field(default_factory=list)
    hypo_reports: list[HypoReport] = field(default_factory=list)
    illness_days: dict[date, list[str]] = field(default_factory=dict)
    exercise_days: dict[date, int] = field(default_factory=dict)  # minutes that day
    summaries: dict[date, DaySummary] | None = None

    def __post_init__(self) -> None:
        if self.summaries is None:
            self.summaries = {}
            for r in self.readings:
                self.summaries.setdefault(r.local_date, DaySummary()).add(r)

    def day(self, on: date) -> DaySummary:
        assert self.summaries is not None
        return self.summaries.get(on) or DaySummary()

    def days(self, n: int) -> list[date]:
        """The last `n` local days, oldest first, ending today."""
        return [self.today - timedelta(days=i) for i in range(n - 1, -1, -1)]

    def in_days(self, n: int) -> list[Reading]:
        first = self.today - timedelta(days=n - 1)
        return [r for r in self.readings if first <= r.local_date <= self.today]

    def reports_in_days(self, n: int) -> list[HypoReport]:
        first = self.today - timedelta(days=n - 1)
        return [e for e in self.hypo_reports if first <= e.local_date <= self.today]


@dataclass(frozen=True)
class Suggestion:
    rule: str
    kind: AlertKind
    severity: Severity
    fold_key: str
    entry_ids: tuple[uuid.UUID, ...]
    details: dict[str, Any]
    # days whose fasting readings are the evidence (the database path loads them once the rule fires)
    evidence_days: tuple[date, ...] = ()


def reading_doc(r: Reading) -> dict[str, Any]:
    return {
        "entry_id": str(r.entry_id),
        "occurred_at": r.occurred_at.isoformat(),
        "local_date": r.local_date.isoformat(),
        "value": r.value,
        "unit": r.unit,
        "value_mg_dl": round(r.value_mg_dl, 1),
        "context": r.context,
        "flags": sorted(r.flags),
    }


def _context(window: Window, days: Iterable[date]) -> dict[str, Any]:
    wanted = set(days)
    return {
        "illness_days": [
            {"local_date": d.isoformat(), "illness": kinds}
            for d, kinds in sorted(window.illness_days.items())
            if d in wanted
        ],
        "exercise_days": [
            {"local_date": d.isoformat(), "minutes": m}
            for d, m in sorted(window.exercise_days.items())
            if d in wanted
        ],
    }


def _suggestion(
    rule: str,
    kind: AlertKind,
    severity: Severity,
    fold_key: str,
    text: str,
    evidence: list[Reading],
    window: Window,
    days: list[date],
    numbers: dict[str, Any],
    reports: Iterable[HypoReport] = (),
    evidence_days: Iterable[date] = (),
) -> Suggestion:
    reports = list(reports)
    details = {
        "suggestion": text,
        "days": [d.isoformat() for d in days],
        "readings": [reading_doc(r) for r in evidence],
        "hypoglycemia_reports": [
            {"entry_id": str(e.entry_id), "local_date": e.local_date.isoformat(), "severe": e.severe}
            for e in reports
        ],
        "numbers": numbers,
        "context": _context(window, days),
        "applied_automatically": False,
    }
    ids = tuple(dict.fromkeys([r.entry_id for r in evidence] + [e.entry_id for e in reports]))
    return Suggestion(rule, kind, severity, fold_key, ids, details, tuple(evidence_days))


def basal_increase(window: Window, rules: DoseReviewRules) -> Suggestion | None:
    """Fasting above range on N consecutive local days (illness days do not count) and no hypo in 7 days."""
    n = rules.fasting_high_consecutive_days
    days = window.days(n)
    for day in days:
        summary = window.day(day)
        if not summary.fasting_n or summary.fasting_above < summary.fasting_n or day in window.illness_days:
            return None
    lookback = rules.no_hypo_lookback_days
    if any(window.day(d).hypo_n for d in window.days(lookback)) or window.reports_in_days(lookback):
        return None
    count = sum(window.day(d).fasting_n for d in days)
    mean = sum(window.day(d).fasting_sum_mg_dl for d in days) / count
    evidence = [r for r in window.readings if r.valid_fasting and r.local_date in days]
    return _suggestion(
        "dose_review.basal_increase",
        AlertKind.dose_review_basal_increase,
        Severity.info,
        "dose_review_basal_increase",
        "Review an increase of basal insulin: fasting glucose above range on "
        f"{n} consecutive days with no hypoglycemia in the last {lookback} days.",
        evidence,
        window,
        window.days(lookback),
        {
            "consecutive_days": n,
            "fasting_readings": count,
            "mean_fasting_mg_dl": round(mean, 1),
            "hypoglycemia_in_lookback": 0,
        },
        evidence_days=days,
    )


def meal_bolus(window: Window, rules: DoseReviewRules, meal_type: str) -> Suggestion | None:
    """Postprandial above limit on M of the last W days after the same meal (illness days do not count)."""
    w = rules.postprandial_window_days
    evidence = [
        r
        for r in window.in_days(w)
        if r.meal_type == meal_type
        and c.POSTPRANDIAL_ABOVE in r.flags
        and r.local_date not in window.illness_days
    ]
    high_days = sorted({r.local_date for r in evidence})
    if len(high_days) < rules.postprandial_high_days:
        return None
    return _suggestion(
        "dose_review.meal_bolus",
        AlertKind.dose_review_meal_bolus,
        Severity.info,
        f"dose_review_meal_bolus:{meal_type}",
        f"Review the {meal_type} bolus: glucose after {meal_type} above the postprandial limit on "
        f"{len(high_days)} of the last {w} days.",
        evidence,
        window,
        window.days(w),
        {"meal_type": meal_type, "days_above_limit": len(high_days), "window_days": w},
    )


def level1_events(readings: list[Reading], reports: list[HypoReport], episodes: EpisodeRules) -> int:
    """Level 1 events: low readings within `max_gap_minutes` of each other are one event (re-checks), and a
    self-report within `event_link_minutes` of a low reading belongs to that event."""
    lows = sorted((r for r in readings if c.HYPO_L1 in r.flags), key=lambda r: r.occurred_at)
    gap = timedelta(minutes=episodes.max_gap_minutes)
    starts: list[datetime] = []
    last: datetime | None = None
    for r in lows:
        if last is None or r.occurred_at - last > gap:
            starts.append(r.occurred_at)
        last = r.occurred_at
    link = timedelta(minutes=episodes.event_link_minutes)
    low_times = [r.occurred_at for r in lows]

    def near_a_low(at: datetime) -> bool:
        # the first low at or after `at - link` (sorted times): near when it is not after `at + link`
        position = bisect_left(low_times, at - link)
        return position < len(low_times) and low_times[position] <= at + link

    lonely = [e for e in reports if not e.severe and not near_a_low(e.occurred_at)]
    return len(starts) + len(lonely)


def reduction(window: Window, rules: DoseReviewRules, episodes: EpisodeRules) -> Suggestion | None:
    """Any level 2 reading or severe event, or enough level 1 events, in the last W days."""
    w = rules.level1_window_days
    readings = window.in_days(w)
    reports = window.reports_in_days(w)
    level2 = sum(window.day(d).level2_n for d in window.days(w))
    severe = [e for e in reports if e.severe]
    events = level1_events(readings, reports, episodes)
    if not level2 and not severe and events < rules.level1_events_for_reduction:
        return None
    evidence = [r for r in readings if r.is_hypo]
    worst = (
        "severe hypoglycemia" if severe else "level 2 hypoglycemia" if level2 else f"{events} level 1 events"
    )
    return _suggestion(
        "dose_review.reduction",
        AlertKind.dose_review_reduction,
        Severity.warning,
        "dose_review_reduction",
        f"Review a reduction of insulin: {worst} in the last {w} days.",
        evidence,
        window,
        window.days(w),
        {
            "level2_readings": level2,
            "severe_events": len(severe),
            "level1_events": events,
            "window_days": w,
        },
        reports,
    )


def falling_requirement(window: Window, rules: DoseReviewRules) -> Suggestion | None:
    """In-range fasting values falling over N days together with new hypoglycemia (more than the N days before)."""
    n = rules.falling_fasting_days
    days = window.days(n)
    daily: list[float] = []
    for day in days:
        summary = window.day(day)
        if not summary.fasting_n or summary.fasting_above or summary.fasting_below:
            return None
        daily.append(summary.fasting_sum_mg_dl / summary.fasting_n)
    xs = range(n)
    mean_x, mean_y = (n - 1) / 2, sum(daily) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, daily, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    if slope >= 0 or daily[-1] >= daily[0]:
        return None

    def hypo_days(first: date, last: date) -> int:
        span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        lows = {d for d in span if window.day(d).hypo_n}
        lows |= {e.local_date for e in window.hypo_reports if first <= e.local_date <= last}
        return len(lows)

    recent = hypo_days(days[0], days[-1])
    before = hypo_days(days[0] - timedelta(days=n), days[0] - timedelta(days=1))
    if recent < rules.falling_new_hypos or recent <= before:
        return None
    evidence = [
        r for r in window.readings if days[0] <= r.local_date <= days[-1] and (r.valid_fasting or r.is_hypo)
    ]
    return _suggestion(
        "dose_review.falling_requirement",
        AlertKind.dose_review_falling_requirement,
        Severity.warning,
        "dose_review_falling_requirement",
        f"Review a reduction of insulin: fasting glucose in range and falling over {n} days "
        f"(from {daily[0]:.0f} to {daily[-1]:.0f} mg/dL) with new hypoglycemia.",
        evidence,
        window,
        days,
        {
            "daily_mean_fasting_mg_dl": [round(v, 1) for v in daily],
            "slope_mg_dl_per_day": round(slope, 2),
            "days_with_hypoglycemia": recent,
            "days_with_hypoglycemia_before": before,
        },
        evidence_days=days,
    )
