"""Running a study report: who may, which filters are valid, blinding, then the report's SQL.

Statisticians and coordinators see the study's reports (coordinators at their sites when assigned to sites),
clinicians their sites, admins everything; participants and guardians nothing. A reader who may not see the
allocation gets 403 for `arm` and never an arm column, an arm aggregate or an arm-sorted order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
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


async def _visible_sites(session: AsyncSession, actor: Actor, study: Study) -> dict[str, uuid.UUID]:
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
        sites = await _visible_sites(session, actor, study)
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


async def build(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, report: str, filters: Filters
) -> Report:
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
    if report == "hypoglycemia":
        await episodes.refresh(session=session, participants=participants_in(scope))
        result.rows = await _fetch(session, hypoglycemia.rows_query(dialect, scope, protocol), row_columns)
        result.aggregates = await _fetch(
            session,
            hypoglycemia.aggregates_query(dialect, scope, protocol, unblinded=unblinded),
            aggregate_columns,
        )
    elif report == "glycemic-control":
        result.rows = await _glycemic(session, glycemic.rows_query(dialect, scope, protocol), row_columns)
        result.aggregates = await _glycemic(
            session, glycemic.aggregates_query(dialect, scope, protocol, unblinded=unblinded), None
        )
    elif report == "insulin":
        found = (await session.execute(insulin.rows_query(dialect, scope, protocol))).mappings().all()
        names = [c.name for c in row_columns]
        result.rows = [
            _rounded({**{k: r[k] for k in names if k in r}, **insulin.finish(dict(r))}) for r in found
        ]
        result.rows = [{k: row[k] for k in names} for row in result.rows]
    elif report == "visits":
        result.rows = await _fetch(session, visits.rows_query(dialect, scope), row_columns)
        result.aggregates = await _fetch(
            session, visits.aggregates_query(dialect, scope, unblinded=unblinded), aggregate_columns
        )
    elif report == "completeness":
        result.rows = await _fetch(session, activity.completeness_rows(dialect, scope, protocol), row_columns)
    else:
        result.rows = await _fetch(session, activity.exercise_rows(dialect, scope, protocol), row_columns)
    return result


async def _fetch(session: AsyncSession, query: Select[Any], wanted: list[Column]) -> list[dict[str, Any]]:
    names = [c.name for c in wanted]
    found = (await session.execute(query)).mappings().all()
    return [_rounded({name: row[name] for name in names}) for row in found]


async def _glycemic(
    session: AsyncSession, query: Select[Any], wanted: list[Column] | None
) -> list[dict[str, Any]]:
    out = []
    for row in (await session.execute(query)).mappings().all():
        keys = [k for k in row.keys() if k not in glycemic.SUMS]
        if wanted is not None:
            keys = [c.name for c in wanted if c.name in row.keys()]
        out.append(_rounded({**{k: row[k] for k in keys}, **glycemic.finish(dict(row))}))
    return out
