"""The study's glucose readings as one tidy table (the readings export): one row per reading not voided, in the
caller's report scope (core.reports.service.resolve_scope: sites, period, blinding), ordered by site, subject and
time, never by arm. Read straight from `glucose_reading` (the typed copy of each glucose entry) and streamed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlmodel import col

from core.models.diary import GlucoseReading
from core.models.study import Arm, Participant, Site
from core.reports.columns import Column
from core.reports.frames import Scope, participants_in

_SOURCE = "glucose entry (glucose_reading)"

COLUMNS = [
    Column("subject_code", "string", None, "the participant's subject code", "participant"),
    Column("site_code", "string", None, "the participant's site", "participant"),
    Column("arm_code", "string", None, "the arm the participant was allocated to", "participant", True),
    Column("entry_id", "string", None, "the diary entry's id (UUID)", _SOURCE),
    Column("occurred_at", "datetime", None, "when the reading was taken, UTC (ISO 8601)", _SOURCE),
    Column("local_date", "date", None, "the participant's local date of the reading", _SOURCE),
    Column(
        "context", "string", None, "fasting, pre_meal, postprandial, bedtime, overnight or random", _SOURCE
    ),
    Column("value", "number", "unit", "the value as entered", _SOURCE),
    Column("unit", "string", None, "mg/dL or mmol/L, as entered", _SOURCE),
    Column("value_mg_dl", "number", "mg/dL", "the value in mg/dL (mmol/L x the protocol's factor)", _SOURCE),
    Column(
        "minutes_after_meal", "integer", "min", "for a postprandial reading, minutes after the meal", _SOURCE
    ),
    Column("source", "string", None, "meter, cgm, lab or manual, when the entry says", _SOURCE),
]


def columns(*, unblinded: bool) -> list[Column]:
    return [c for c in COLUMNS if unblinded or not c.unblinded_only]


def export_query(scope: Scope, *, unblinded: bool) -> Select[Any]:
    """The rows, in `columns(unblinded=...)` order."""
    reading = {
        "entry_id": col(GlucoseReading.entry_id),
        "occurred_at": col(GlucoseReading.occurred_at),
        "local_date": col(GlucoseReading.local_date),
        "context": col(GlucoseReading.context),
        "value": col(GlucoseReading.value),
        "unit": col(GlucoseReading.unit),
        "value_mg_dl": col(GlucoseReading.value_mg_dl),
        "minutes_after_meal": col(GlucoseReading.minutes_after_meal),
        "source": col(GlucoseReading.source),
    }
    people = {
        "subject_code": col(Participant.subject_code),
        "site_code": col(Site.code),
        "arm_code": col(Arm.code),
    }
    every: dict[str, Any] = people | reading
    picked = [every[c.name].label(c.name) for c in columns(unblinded=unblinded)]
    query = (
        select(*picked)
        .select_from(GlucoseReading)
        .join(Participant, col(Participant.id) == col(GlucoseReading.participant_id))
        .join(Site, col(Site.id) == col(Participant.site_id))
        .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
        .where(participants_in(scope), col(GlucoseReading.voided).is_(False))
        .where(col(GlucoseReading.local_date) < scope.cut)
    )
    if scope.start is not None:
        query = query.where(col(GlucoseReading.local_date) >= scope.start)
    return query.order_by(
        col(Site.code),
        col(Participant.subject_code),
        col(GlucoseReading.occurred_at),
        col(GlucoseReading.entry_id),
    )
