"""Running a study report: who may, which filters are valid, blinding, then the report's SQL.

Statisticians and coordinators see the study's reports (coordinators at their sites when assigned to sites),
clinicians their sites, admins everything; participants and guardians nothing. A reader who may not see the
allocation gets 403 for `arm` and never an arm column, an arm aggregate or an arm-sorted order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import access, clock
from core.access import Actor
from core.db import dialect_name
from core.episodes import store as episodes
from core.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from core.models.people import Role
from core.models.study import Arm, Site, StaffAssignment, Study
from core.reports import activity, columns, glycemic, hypoglycemia, insulin, visits
from core.reports.columns import Column
from core.reports.frames import Scope, participants_in
from core.studies.protocol import current_protocol

REPORT_ROLES = frozenset({Role.statistician, Role.coordinator, Role.clinician, Role.admin})
# decimals of the figures (the dictionary's precision); everything else is rounded to 0.1
ROUNDING = {
    "exposure_years": 4,
    "episodes_per_patient_year": 3,
    "cpgr": 2,
    "cpgr_mean": 2,
    "idaa1c": 2,
    "iu_per_kg": 2,
}
# rows per fetch from the database's cursor when a report or an export streams
STREAM_CHUNK_ROWS = 1000


@dataclass(frozen=True)
class Filters:
    site: str | None = None
    arm: str | None = None
    start: date | None = None
    to: date | None = None


@dataclass
class Report:
    name: str
    study_id: uuid.UUID
    protocol_version: int
    generated_at: datetime
    filters: dict[str, Any]
    columns: list[Column]
    aggregate_columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    aggregates: list[dict[str, Any]] = field(default_factory=list)


async def _study(session: AsyncSession, actor: Actor, study_id: uuid.UUID) -> Study:
    if actor.role not in REPORT_ROLES:
        raise Forbidden("Study reports are for statisticians, coordinators, clinicians and admins.")
    study = (
        await session.execute(select(Study).where(col(Study.id) == study_id, access.study_scope(actor)))
    ).scalar_one_or_none()
    if study is None:
        raise NotFound("No such study.")
    return study


async def visible_sites(session: AsyncSession, actor: Actor, study: Study) -> dict[str, uuid.UUID]:
    """Codes of the study's sites the caller's reports may cover."""
    query = select(col(Site.code), col(Site.id)).where(col(Site.study_id) == study.id)
    if actor.role in (Role.clinician, Role.coordinator):
        mine = select(col(StaffAssignment.site_id)).where(
            col(StaffAssignment.user_id) == actor.user_id, col(StaffAssignment.study_id) == study.id
        )
        study_wide = mine.where(col(StaffAssignment.site_id).is_(None)).exists()
        query = query.where(or_(col(Site.id).in_(mine), study_wide))
    return {code: site_id for code, site_id in (await session.execute(query)).all()}


async def resolve_scope(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, filters: Filters
) -> tuple[Study, Scope, bool]:
    """The study, the checked report scope, and whether the caller sees the allocation."""
    study = await _study(session, actor, study_id)
    unblinded = access.sees_allocation(actor, study)
    site_id = arm_id = None
    if filters.site is not None:
        sites = await visible_sites(session, actor, study)
        if filters.site not in sites:
            allowed = ", ".join(sorted(sites)) or "none"
            raise InvalidInput(
                f"site {filters.site!r} is not a site of this study you may report on.",
                fields=[FieldProblem("site", f"{filters.site!r} is not allowed; allowed: {allowed}")],
            )
        site_id = sites[filters.site]
    if filters.arm is not None:
        if not unblinded:
            raise Forbidden("The study is blinded: a report by arm is for unblinded roles only.")
        found = await session.execute(select(col(Arm.code), col(Arm.id)).where(col(Arm.study_id) == study.id))
        arms: dict[str, uuid.UUID] = {code: arm_id for code, arm_id in found.all()}
        if filters.arm not in arms:
            raise InvalidInput(
                f"arm {filters.arm!r} is not an arm of this study.",
                fields=[
                    FieldProblem("arm", f"{filters.arm!r} is not allowed; allowed: {', '.join(sorted(arms))}")
                ],
            )
        arm_id = arms[filters.arm]
    today = clock.now().astimezone(ZoneInfo(study.timezone)).date()
    # the data cut: `to` (exclusive), never later than the end of today (no exposure not yet lived)
    cut = min(filters.to, today + timedelta(days=1)) if filters.to else today + timedelta(days=1)
    if filters.start is not None and cut <= filters.start:
        raise InvalidInput(
            f"The period from {filters.start} to {cut} is empty.",
            fields=[FieldProblem("to", f"{filters.to} is not after from={filters.start}: give a later date")],
        )
    scope = Scope(study.id, actor, site_id, arm_id, filters.start, cut)
    return study, scope, unblinded


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, float):
            value = round(value, ROUNDING.get(key, 1))
        out[key] = value
    return out


@dataclass
class Plan:
    """A report ready to run: its header (`report`, rows still empty), its SQL and how a SQL row is finished."""

    report: Report
    rows_query: Select[Any]
    aggregates_query: Select[Any] | None
    finish_row: Callable[[Mapping[str, Any]], dict[str, Any]]
    finish_aggregate: Callable[[Mapping[str, Any]], dict[str, Any]]


def _picked(names: list[str]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return lambda row: _rounded({name: row[name] for name in names})


def _glycemic_finish(names: list[str] | None) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def finish(row: Mapping[str, Any]) -> dict[str, Any]:
        keys = [k for k in row.keys() if k not in glycemic.SUMS] if names is None else names
        return _rounded({**{k: row[k] for k in keys if k in row}, **glycemic.finish(dict(row))})

    return finish


def _insulin_finish(names: list[str]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def finish(row: Mapping[str, Any]) -> dict[str, Any]:
        done = _rounded({**{k: row[k] for k in names if k in row}, **insulin.finish(dict(row))})
        return {k: done[k] for k in names}

    return finish


async def prepare(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, report: str, filters: Filters
) -> Plan:
    """Check the caller and the filters, refresh what the report reads (the episode cache), build its SQL."""
    if report not in columns.REPORTS:
        raise NotFound(f"No report {report!r}.")
    study, scope, unblinded = await resolve_scope(
        session=session, actor=actor, study_id=study_id, filters=filters
    )
    protocol, version = await current_protocol(session=session, study_id=study.id)
    row_columns, aggregate_columns = (
        columns.visible(c, unblinded=unblinded) for c in columns.REPORTS[report]
    )
    result = Report(
        name=report,
        study_id=study.id,
        protocol_version=version,
        generated_at=clock.now(),
        # a blinded reader's answer has no arm anywhere, not even an empty filter
        filters={"site": filters.site, "from": filters.start, "to": scope.cut}
        | ({"arm": filters.arm} if unblinded else {}),
        columns=row_columns,
        aggregate_columns=aggregate_columns,
    )
    dialect = dialect_name(session)
    names = [c.name for c in row_columns]
    by_name = _picked(names)
    aggregate_names = _picked([c.name for c in aggregate_columns])
    if report == "hypoglycemia":
        await episodes.refresh(session=session, participants=participants_in(scope))
        return Plan(
            result,
            hypoglycemia.rows_query(dialect, scope, protocol),
            hypoglycemia.aggregates_query(dialect, scope, protocol, unblinded=unblinded),
            by_name,
            aggregate_names,
        )
    if report == "glycemic-control":
        return Plan(
            result,
            glycemic.rows_query(dialect, scope, protocol),
            glycemic.aggregates_query(dialect, scope, protocol, unblinded=unblinded),
            _glycemic_finish(names),
            _glycemic_finish(None),
        )
    if report == "insulin":
        rows = insulin.rows_query(dialect, scope, protocol)
        return Plan(result, rows, None, _insulin_finish(names), aggregate_names)
    if report == "visits":
        return Plan(
            result,
            visits.rows_query(dialect, scope),
            visits.aggregates_query(dialect, scope, unblinded=unblinded),
            by_name,
            aggregate_names,
        )
    if report == "completeness":
        return Plan(
            result, activity.completeness_rows(dialect, scope, protocol), None, by_name, aggregate_names
        )
    return Plan(result, activity.exercise_rows(dialect, scope, protocol), None, by_name, aggregate_names)


async def build(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, report: str, filters: Filters
) -> Report:
    """The whole report in memory (JSON answers, snapshots): rows and aggregates."""
    plan = await prepare(session=session, actor=actor, study_id=study_id, report=report, filters=filters)
    result = plan.report
    found = (await session.execute(plan.rows_query)).mappings().all()
    result.rows = [plan.finish_row(row) for row in found]
    if plan.aggregates_query is not None:
        found = (await session.execute(plan.aggregates_query)).mappings().all()
        result.aggregates = [plan.finish_aggregate(row) for row in found]
    return result


async def stream_rows(
    session: AsyncSession, plan: Plan, *, chunk: int | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The report's rows, finished, `chunk` at a time as the database sends them (CSV answers)."""
    async for part in stream_results(session, plan.rows_query, chunk=chunk):
        yield [plan.finish_row(dict(row._mapping)) for row in part]


async def stream_results(
    session: AsyncSession, query: Select[Any], *, chunk: int | None = None
) -> AsyncIterator[Sequence[Row[Any]]]:
    """Rows of `query` in lists of `chunk` as the database sends them: a server-side cursor on PostgreSQL
    (`session` must be able to hold a transaction), SQLite's cursor read as it goes; never all in memory."""
    chunk = chunk or STREAM_CHUNK_ROWS
    result = await session.stream(query.execution_options(yield_per=chunk))
    try:
        async for part in result.partitions(chunk):
            yield part
    finally:
        await result.close()
