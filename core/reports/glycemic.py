"""The glycemic-control report in SQL: readings, fasting and postprandial means and % in the protocol range,
mean, SD, CV and % below the hypoglycemia thresholds, per participant per frame and aggregated per frame.

Ranges are judged in the unit each reading was entered in, against that unit's protocol thresholds (A1);
means and SD use the canonical mg/dL. The SQL returns sums (n, sum, sum of squares); SD and CV are finished
from them (sample SD, n-1), so the same figures aggregate exactly over sites.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlmodel import col

from core.models.diary import DiaryEntry, GlucoseReading
from core.models.study import Participant
from core.protocol import Comparison, ProtocolSettings
from core.reports import sql
from core.reports.frames import (
    Scope,
    figures_per_frame,
    participant_frames,
    participants_in,
    per_site_total_and_arm,
)
from core.rules.classify import FASTING_AFTER_MEAL, MG_DL, MMOL_L, POSTPRANDIAL_MISTIMED

SUMS = (
    "readings",
    "total_mg_dl",
    "total_sq",
    "fasting_n",
    "fasting_total",
    "fasting_in_range",
    "postprandial_n",
    "postprandial_total",
    "postprandial_in_range",
    "below_level1",
    "below_level2",
)


def _sum(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def rows_query(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    """Per participant per frame: the key columns and the SUMS."""
    rules = protocol.glucose
    frames = participant_frames(dialect, scope, protocol).cte("pf")
    readings = (
        select(
            col(GlucoseReading.participant_id),
            col(GlucoseReading.local_date),
            col(GlucoseReading.value),
            col(GlucoseReading.unit),
            col(GlucoseReading.value_mg_dl),
            col(GlucoseReading.context),
            col(DiaryEntry.flags),
        )
        .join(DiaryEntry, col(DiaryEntry.id) == col(GlucoseReading.entry_id))
        .where(
            col(GlucoseReading.voided).is_(False),
            col(GlucoseReading.participant_id).in_(select(col(Participant.id)).where(participants_in(scope))),
        )
        .subquery("gr")
    )
    r = readings.c
    present = r.participant_id.is_not(None)
    fasting = and_(r.context == "fasting", ~sql.has_flag(dialect, r.flags, FASTING_AFTER_MEAL))
    postprandial = and_(r.context == "postprandial", ~sql.has_flag(dialect, r.flags, POSTPRANDIAL_MISTIMED))

    def thresholds(pick: Any) -> ColumnElement[bool]:
        return or_(and_(r.unit == MG_DL, pick(rules.mg_dl)), and_(r.unit == MMOL_L, pick(rules.mmol_l)))

    level1 = (
        (lambda t: r.value <= t.hypo_level1)
        if rules.hypo_comparison is Comparison.le
        else (lambda t: r.value < t.hypo_level1)
    )
    figures = [
        _sum(present).label("readings"),
        _sum(present, r.value_mg_dl).label("total_mg_dl"),
        _sum(present, r.value_mg_dl * r.value_mg_dl).label("total_sq"),
        _sum(fasting).label("fasting_n"),
        _sum(fasting, r.value_mg_dl).label("fasting_total"),
        _sum(
            and_(fasting, thresholds(lambda t: and_(r.value >= t.fasting_low, r.value <= t.fasting_high)))
        ).label("fasting_in_range"),
        _sum(postprandial).label("postprandial_n"),
        _sum(postprandial, r.value_mg_dl).label("postprandial_total"),
        _sum(and_(postprandial, thresholds(lambda t: r.value < t.postprandial_limit))).label(
            "postprandial_in_range"
        ),
        _sum(thresholds(level1)).label("below_level1"),
        _sum(thresholds(lambda t: r.value < t.hypo_level2)).label("below_level2"),
    ]
    return figures_per_frame(frames, readings, r.local_date, figures)


def _aggregate(
    rows: CTE, site: Any, arm: Any, *, kind: int, unblinded: bool, group: list[Any]
) -> Select[Any]:
    columns = [literal(kind).label("kind"), rows.c.frame.label("frame"), site.label("site_code")]
    if unblinded:
        columns.append(arm.label("arm_code"))
    columns.append(func.count().label("participants"))
    columns += [cast(func.sum(rows.c[name]), Float).label(name) for name in SUMS]
    return select(*columns).group_by(rows.c.frame, *group)


def aggregates_query(
    dialect: str, scope: Scope, protocol: ProtocolSettings, *, unblinded: bool
) -> Select[Any]:
    """Per frame, the SUMS per site, for all sites, and (unblinded only) per arm."""
    rows = rows_query(dialect, scope, protocol).order_by(None).cte("glyc_rows")
    return per_site_total_and_arm(rows, _aggregate, unblinded=unblinded, by="frame")


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _mean(total: float, n: float) -> float | None:
    return round(total / n, 1) if n else None


def finish(sums: dict[str, Any]) -> dict[str, Any]:
    """The report's figures from one row of SUMS (rounded as the dictionary says: 0.1)."""
    n = float(sums["readings"] or 0)
    total, square = float(sums["total_mg_dl"] or 0), float(sums["total_sq"] or 0)
    mean = total / n if n else None
    sd = math.sqrt(max(0.0, (square - total * total / n) / (n - 1))) if n >= 2 else None
    fasting_n, pp_n = float(sums["fasting_n"] or 0), float(sums["postprandial_n"] or 0)
    return {
        "readings": int(n),
        "fasting_n": int(fasting_n),
        "fasting_mean_mg_dl": _mean(float(sums["fasting_total"] or 0), fasting_n),
        "fasting_in_range_pct": _pct(float(sums["fasting_in_range"] or 0), fasting_n),
        "postprandial_n": int(pp_n),
        "postprandial_mean_mg_dl": _mean(float(sums["postprandial_total"] or 0), pp_n),
        "postprandial_in_range_pct": _pct(float(sums["postprandial_in_range"] or 0), pp_n),
        "mean_mg_dl": round(mean, 1) if mean is not None else None,
        "sd_mg_dl": round(sd, 1) if sd is not None else None,
        "cv_pct": round(100.0 * sd / mean, 1) if sd is not None and mean else None,
        "below_70_pct": _pct(float(sums["below_level1"] or 0), n),
        "below_54_pct": _pct(float(sums["below_level2"] or 0), n),
    }
