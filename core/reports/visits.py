"""The visits report in SQL: one row per participant per planned visit, with the results as entered and the
values derived at completion (HbA1c in mmol/mol, CPGR, BMI, IDAA1c), and per-visit aggregates per site."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Integer, Select, case, cast, func, literal, select
from sqlmodel import col

from core.models.study import Arm, Participant, Site
from core.models.visits import Visit
from core.reports import sql
from core.reports.frames import Scope, participants_in, per_site_total_and_arm

RESULTS = (
    "hba1c_percent",
    "c_peptide_fasting_ng_ml",
    "c_peptide_stimulated_ng_ml",
    "glucose_fasting_mg_dl",
    "weight_kg",
)
DERIVED = ("hba1c_mmol_mol", "cpgr", "bmi", "idaa1c")
MEANS = ("hba1c_percent", "hba1c_mmol_mol", "c_peptide_fasting_ng_ml", "c_peptide_stimulated_ng_ml", "cpgr")


def rows_query(dialect: str, scope: Scope) -> Select[Any]:
    """Visits whose target date is before the data cut (and on or after `from`), by site, subject, month."""
    figures = [sql.json_number(dialect, col(Visit.results), k).label(k) for k in RESULTS]
    figures += [sql.json_number(dialect, col(Visit.derived), k).label(k) for k in DERIVED]
    query: Select[Any] = (
        select(  # type: ignore[assignment]
            col(Participant.subject_code).label("subject_code"),
            col(Site.code).label("site_code"),
            col(Arm.code).label("arm_code"),
            col(Visit.label).label("visit"),
            col(Visit.month).label("month"),
            col(Visit.target_date).label("target_date"),
            col(Visit.status).label("status"),
            col(Visit.completed_on).label("completed_on"),
            col(Visit.outside_window).label("outside_window"),
            *figures,
        )
        .select_from(Visit)
        .join(Participant, col(Participant.id) == col(Visit.participant_id))
        .join(Site, col(Site.id) == col(Participant.site_id))
        .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
        .where(participants_in(scope), col(Visit.target_date) < sql.as_date(scope.cut))
        .order_by(col(Site.code), col(Participant.subject_code), col(Visit.month))
    )
    if scope.start is not None:
        query = query.where(col(Visit.target_date) >= sql.as_date(scope.start))
    return query


def _aggregate(
    rows: CTE, site: Any, arm: Any, *, kind: int, unblinded: bool, group: list[Any]
) -> Select[Any]:
    columns = [literal(kind).label("kind"), rows.c.month, rows.c.visit, site.label("site_code")]
    if unblinded:
        columns.append(arm.label("arm_code"))
    completed = func.sum(case((rows.c.status == "completed", 1), else_=0))
    columns += [func.count().label("visits_due"), cast(completed, Integer).label("completed")]
    columns += [func.avg(rows.c[name]).label(f"{name}_mean") for name in MEANS]
    return select(*columns).group_by(rows.c.month, rows.c.visit, *group)


def aggregates_query(dialect: str, scope: Scope, *, unblinded: bool) -> Select[Any]:
    rows = rows_query(dialect, scope).order_by(None).cte("visit_rows")
    return per_site_total_and_arm(rows, _aggregate, unblinded=unblinded, by="month")
