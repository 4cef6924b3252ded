"""The reports page's read model: a study report as core.reports.service builds it for the JSON API (same
scoping, same blinding, same figures), laid out per time frame, with one small chart per report.

Frames are the reports' own (CLINICAL.md A3: frame k covers months (k-1)M to kM from day 0). The completeness
report counts weeks; a week belongs to the frame it starts in. The visits report is by visit, not by frame.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.access import Actor
from core.models.study import Arm
from core.reports import service
from core.reports.columns import Column
from core.reports.service import Report
from core.visits.plan import add_months

# the report names in the order the page lists them, with their titles
TITLES = {
    "hypoglycemia": "Hypoglycemia",
    "glycemic-control": "Glycemic control",
    "insulin": "Insulin",
    "visits": "Visits",
    "completeness": "Diary completeness",
    "exercise": "Exercise",
}


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    summary: bool = False  # aggregate rows: an empty site (and arm) means all of them


@dataclass(frozen=True)
class Section:
    heading: str
    tables: list[Table]


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    xs: list[int] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "x_label": self.x_label,
            "y_label": self.y_label,
            "xs": self.xs,
            "series": [{"label": s.label, "values": s.values} for s in self.series],
        }


@dataclass(frozen=True)
class ReportView:
    report: Report
    frames: list[int]  # the frames the report has rows in (empty: the visits report)
    frame: int | None  # the one shown, None: all
    sections: list[Section]
    chart: Chart | None


def frame_of_day(day0: date, day: date, months: int) -> int:
    """The frame (from 1) a local date on or after day 0 falls in."""
    frame = 1
    while add_months(day0, frame * months) <= day:
        frame += 1
    return frame


def frame_heading(frame: int, months: int) -> str:
    return f"Frame {frame}: months {(frame - 1) * months}-{frame * months} from day 0"


def _week_frame(row: dict[str, Any], months: int) -> int:
    day0 = row["week_start"] - timedelta(days=7 * (row["week"] - 1))
    return frame_of_day(day0, row["week_start"], months)


def _all_sites(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The aggregate rows over every site of the report (no site, no arm): what the charts draw."""
    return [r for r in rows if r.get("site_code") is None and r.get("arm_code") is None]


def _mean(values: list[Any]) -> float | None:
    found = [float(v) for v in values if v is not None]
    return round(sum(found) / len(found), 1) if found else None


def _by_frame(rows: list[dict[str, Any]], key: str) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


Rows = list[dict[str, Any]]
Figure = Callable[[Rows], float | None]  # one point's value from the rows at that point


def _column(name: str) -> Figure:
    """An aggregate point is one all-sites row: its figure as the report computed it."""
    return lambda rows: rows[0][name]


def _mean_of(name: str) -> Figure:
    return lambda rows: _mean([r[name] for r in rows])


def _percent_of(part: str, whole: str) -> Figure:
    def percent(rows: Rows) -> float | None:
        total = sum(r[whole] for r in rows)
        return round(100 * sum(r[part] for r in rows) / total, 1) if total else None

    return percent


@dataclass(frozen=True)
class ChartSpec:
    title: str
    x: str  # the rows' key the chart runs along, also the x axis's label
    y_label: str
    series: tuple[tuple[str, Figure], ...]  # label, figure
    # True: a point per all-sites aggregate row, in the report's order; False: the participants' rows per x
    aggregated: bool = True


# one chart per report: figures over every site per frame (per week, per visit month)
CHARTS = {
    "hypoglycemia": ChartSpec(
        "Episodes per 100 patient-years, all sites",
        "frame",
        "per 100 patient-years",
        (
            ("all episodes", _column("episodes_per_100_patient_years")),
            ("severe", _column("severe_per_100_patient_years")),
        ),
    ),
    "glycemic-control": ChartSpec(
        "Fasting readings in range and readings below 70 mg/dL, all sites",
        "frame",
        "%",
        (("fasting in range", _column("fasting_in_range_pct")), ("below 70 mg/dL", _column("below_70_pct"))),
    ),
    "visits": ChartSpec(
        "Mean HbA1c of completed visits, all sites",
        "month",
        "HbA1c %",
        (("HbA1c", _column("hba1c_percent_mean")),),
    ),
    "completeness": ChartSpec(
        "Days with a fasting reading, % of days on study, all participants",
        "week",
        "%",
        (("completeness", _percent_of("days_with_fasting", "expected_fasting")),),
        aggregated=False,
    ),
    "insulin": ChartSpec(
        "Mean total daily insulin dose of the participants",
        "frame",
        "IU/day",
        (("TDD", _mean_of("tdd_iu")),),
        aggregated=False,
    ),
    "exercise": ChartSpec(
        "Mean exercise minutes per week of the participants",
        "frame",
        "min/week",
        (
            ("minutes per week", _mean_of("minutes_per_week")),
            ("regimen", _mean_of("regimen_minutes_per_week")),
        ),
        aggregated=False,
    ),
}


def chart_of(report: Report, months: int) -> Chart | None:
    """The report's small chart as CHARTS describes it; None when it has no point to draw."""
    spec = CHARTS[report.name]
    if spec.aggregated:
        points = [(row[spec.x], [row]) for row in _all_sites(report.aggregates)]
    else:
        grouped = _by_frame(report.rows, spec.x)
        points = [(x, grouped[x]) for x in sorted(grouped)]
    if not points:
        return None
    series = [Series(label, [figure(rows) for _x, rows in points]) for label, figure in spec.series]
    return Chart(spec.title, spec.x, spec.y_label, [x for x, _rows in points], series)


def view_of(report: Report, *, months: int, frame: int | None) -> ReportView:
    """The report laid out for the page: per frame (only `frame` when given) the aggregates, then the rows."""
    chart = chart_of(report, months)
    if report.name == "visits":
        tables = (
            [Table("Summary by visit month", report.aggregate_columns, report.aggregates, True)]
            if report.aggregates
            else []
        )
        tables.append(Table("Each participant's visits", report.columns, report.rows))
        return ReportView(report, [], None, [Section("By visit", tables)], chart)
    if report.name == "completeness":
        rows = _by_frame([{**r, "frame": _week_frame(r, months)} for r in report.rows], "frame")
    else:
        rows = _by_frame(report.rows, "frame")
    aggregates = _by_frame(report.aggregates, "frame")
    frames = sorted(rows)
    sections = []
    for number in frames:
        if frame is not None and number != frame:
            continue
        tables = []
        if aggregates.get(number):
            tables.append(Table("Summary by site", report.aggregate_columns, aggregates[number], True))
        unit = "Each participant's weeks" if report.name == "completeness" else "Each participant"
        tables.append(Table(unit, report.columns, rows[number]))
        sections.append(Section(frame_heading(number, months), tables))
    return ReportView(report, frames, frame, sections, chart)


@dataclass(frozen=True)
class Choices:
    sites: list[str]  # the site codes the reader may report on
    arms: list[str]  # empty for a blinded reader


async def choices(*, session: AsyncSession, actor: Actor, study_id: uuid.UUID) -> Choices:
    """What the page's filters offer: the service's own list of sites, and arms only to unblinded readers."""
    study, _scope, unblinded = await service.resolve_scope(
        session=session, actor=actor, study_id=study_id, filters=service.Filters()
    )
    sites = sorted(await service.visible_sites(session, actor, study))
    arms: list[str] = []
    if unblinded:
        found = await session.execute(select(col(Arm.code)).where(col(Arm.study_id) == study.id))
        arms = sorted(found.scalars())
    return Choices(sites, arms)
