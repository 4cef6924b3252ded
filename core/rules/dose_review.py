"""Dose-review pattern rules over the participant's local days: pure functions over plain data.

Each rule answers a Suggestion (what to review, the evidence, the context) or None. They suggest to a
clinician only; nothing here changes or advises a dose (CLINICAL.md A4).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

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
class Window:
    """What the rules see: readings and self-reported events up to `today` (the trigger's local day)."""

    today: date
    readings: list[Reading] = field(default_factory=list)
    hypo_reports: list[HypoReport] = field(default_factory=list)
    illness_days: dict[date, list[str]] = field(default_factory=dict)
    exercise_days: dict[date, int] = field(default_factory=dict)  # minutes that day

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
    kind: str
    severity: str
    fold_key: str
    entry_ids: tuple[uuid.UUID, ...]
    details: dict[str, Any]


def _reading_doc(r: Reading) -> dict[str, Any]:
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
    kind: str,
    severity: str,
    fold_key: str,
    text: str,
    evidence: list[Reading],
    window: Window,
    days: list[date],
    numbers: dict[str, Any],
    reports: Iterable[HypoReport] = (),
) -> Suggestion:
    reports = list(reports)
    details = {
        "suggestion": text,
        "days": [d.isoformat() for d in days],
        "readings": [_reading_doc(r) for r in evidence],
        "hypoglycemia_reports": [
            {"entry_id": str(e.entry_id), "local_date": e.local_date.isoformat(), "severe": e.severe}
            for e in reports
        ],
        "numbers": numbers,
        "context": _context(window, days),
        "applied_automatically": False,
    }
    ids = tuple(dict.fromkeys([r.entry_id for r in evidence] + [e.entry_id for e in reports]))
    return Suggestion(rule, kind, severity, fold_key, ids, details)


def basal_increase(window: Window, rules: DoseReviewRules) -> Suggestion | None:
    """Fasting above range on N consecutive local days (illness days do not count) and no hypo in 7 days."""
    n = rules.fasting_high_consecutive_days
    days = window.days(n)
    evidence: list[Reading] = []
    for day in days:
        fasting = [r for r in window.readings if r.local_date == day and r.valid_fasting]
        if not fasting or any(c.FASTING_ABOVE not in r.flags for r in fasting) or day in window.illness_days:
            return None
        evidence += fasting
    lookback = rules.no_hypo_lookback_days
    if any(r.is_hypo for r in window.in_days(lookback)) or window.reports_in_days(lookback):
        return None
    mean = sum(r.value_mg_dl for r in evidence) / len(evidence)
    return _suggestion(
        "dose_review.basal_increase",
        "dose_review_basal_increase",
        "info",
        "dose_review_basal_increase",
        "Review an increase of basal insulin: fasting glucose above range on "
        f"{n} consecutive days with no hypoglycemia in the last {lookback} days.",
        evidence,
        window,
        window.days(lookback),
        {"consecutive_days": n, "mean_fasting_mg_dl": round(mean, 1), "hypoglycemia_in_lookback": 0},
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
        "dose_review_meal_bolus",
        "info",
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
    lonely = [
        e
        for e in reports
        if not e.severe and not any(abs(e.occurred_at - r.occurred_at) <= link for r in lows)
    ]
    return len(starts) + len(lonely)


def reduction(window: Window, rules: DoseReviewRules, episodes: EpisodeRules) -> Suggestion | None:
    """Any level 2 reading or severe event, or enough level 1 events, in the last W days."""
    w = rules.level1_window_days
    readings = window.in_days(w)
    reports = window.reports_in_days(w)
    level2 = [r for r in readings if c.HYPO_L2 in r.flags]
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
        "dose_review_reduction",
        "warning",
        "dose_review_reduction",
        f"Review a reduction of insulin: {worst} in the last {w} days.",
        evidence,
        window,
        window.days(w),
        {
            "level2_readings": len(level2),
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
    evidence: list[Reading] = []
    for day in days:
        fasting = [r for r in window.readings if r.local_date == day and r.valid_fasting]
        if not fasting or any(r.flags & {c.FASTING_ABOVE, c.FASTING_BELOW} for r in fasting):
            return None
        daily.append(sum(r.value_mg_dl for r in fasting) / len(fasting))
        evidence += fasting
    xs = range(n)
    mean_x, mean_y = (n - 1) / 2, sum(daily) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, daily, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    if slope >= 0 or daily[-1] >= daily[0]:
        return None

    def hypos(first: date, last: date) -> int:
        lows = {r.local_date for r in window.readings if r.is_hypo and first <= r.local_date <= last}
        lows |= {e.local_date for e in window.hypo_reports if first <= e.local_date <= last}
        return len(lows)

    recent = hypos(days[0], days[-1])
    before = hypos(days[0] - timedelta(days=n), days[0] - timedelta(days=1))
    if recent < rules.falling_new_hypos or recent <= before:
        return None
    return _suggestion(
        "dose_review.falling_requirement",
        "dose_review_falling_requirement",
        "warning",
        "dose_review_falling_requirement",
        f"Review a reduction of insulin: fasting glucose in range and falling over {n} days "
        f"(from {daily[0]:.0f} to {daily[-1]:.0f} mg/dL) with new hypoglycemia.",
        evidence + [r for r in window.in_days(n) if r.is_hypo],
        window,
        days,
        {
            "daily_mean_fasting_mg_dl": [round(v, 1) for v in daily],
            "slope_mg_dl_per_day": round(slope, 2),
            "days_with_hypoglycemia": recent,
            "days_with_hypoglycemia_before": before,
        },
    )
