"""Request and response bodies of the alert inbox and dose-review decisions (no arm information, ever)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.diary.kinds import GlucoseContext, GlucoseUnit
from core.models.alerts import (
    GLUCOSE_EVENT_KINDS,
    ILLNESS_KINDS,
    AlertCategory,
    AlertKind,
    AlertStatus,
    CauseStatus,
    DoseDecision,
    Severity,
)
from core.rules.lifecycle import AlertView
from core.text import SafeText


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertEntryLink(BaseModel):
    entry_id: uuid.UUID
    entry_version: int = Field(
        description="the version of the entry that caused, joined or is evidence of the alert"
    )
    cause_status: CauseStatus = Field(
        description="current, or since: corrected, voided, or rejudged (a meal logged later changed its judgement)"
    )


# ---- details, one schema per kind of alert ----------------------------------------------------------------------
# The rules write `details` as a JSON document; these models give generated clients its shape. Extra keys are
# kept (a rule may add evidence before this schema names it), and a kind this module does not know yet is
# answered as OtherAlertDetails rather than refused.


class CauseChange(BaseModel):
    entry_id: uuid.UUID
    change: CauseStatus
    version: int | None = None
    at: datetime


class _Details(BaseModel):
    model_config = ConfigDict(extra="allow")

    cause_changes: list[CauseChange] = Field(
        default_factory=list,
        description="entries that caused the alert and were corrected, voided or re-judged",
    )


class GlucoseEventDetails(_Details):
    """hypoglycemia_level_1, hypoglycemia_level_2, severe_hypoglycemia: the reading or report that caused it."""

    flag: str
    local_date: date
    value: float | None = Field(default=None, description="the reading as entered (glucose entries)")
    unit: GlucoseUnit | None = None


class IllnessDetails(_Details):
    """illness_reported, ketones_high, ketones_critical, illness_hospital_visit: why the report raised it."""

    reasons: list[str]
    local_date: date


class EvidenceReading(BaseModel):
    entry_id: uuid.UUID
    occurred_at: datetime
    local_date: date
    value: float
    unit: GlucoseUnit
    value_mg_dl: float
    context: GlucoseContext | None = None
    flags: list[str]


class HypoglycemiaReport(BaseModel):
    entry_id: uuid.UUID
    local_date: date
    severe: bool


class DayContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    local_date: date


class DoseReviewContext(BaseModel):
    illness_days: list[DayContext]
    exercise_days: list[DayContext]


class DoseReviewDetails(_Details):
    """dose_review_*: the suggestion, the days and readings behind it, its numbers; never applied by itself."""

    suggestion: str
    days: list[date]
    readings: list[EvidenceReading]
    hypoglycemia_reports: list[HypoglycemiaReport]
    numbers: dict[str, Any]
    context: DoseReviewContext
    applied_automatically: bool


class OtherAlertDetails(_Details):
    """An alert kind this version of the API does not describe yet."""


AlertDetails = GlucoseEventDetails | IllnessDetails | DoseReviewDetails | OtherAlertDetails


def details_of(kind: str, category: str, details: dict[str, Any]) -> AlertDetails:
    if category == AlertCategory.dose_review:
        return DoseReviewDetails.model_validate(details)
    if kind in GLUCOSE_EVENT_KINDS:
        return GlucoseEventDetails.model_validate(details)
    if kind in ILLNESS_KINDS:
        return IllnessDetails.model_validate(details)
    return OtherAlertDetails.model_validate(details)


class AlertPublic(BaseModel):
    id: uuid.UUID
    kind: AlertKind = Field(
        description="the condition: a glucose event, an illness report or a dose-review pattern"
    )
    category: AlertCategory
    severity: Severity
    status: AlertStatus
    participant_id: uuid.UUID
    subject_code: str
    entry_ids: list[uuid.UUID]
    entries: list[AlertEntryLink]
    rule: str
    protocol_version: int
    occurrences: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    cause_changed: bool = Field(
        description="an entry that caused it was corrected, voided or re-judged since"
    )
    details: AlertDetails = Field(description="evidence and context; for dose review the suggestion itself")
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    resolution_note: str | None
    decision: DoseDecision | None
    decision_note: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: AlertView) -> AlertPublic:
        alert = view.alert
        return cls.model_validate(
            {
                **alert.model_dump(
                    warnings=False
                ),  # a row written in this request may hold a str where it reads back an enum
                "subject_code": view.subject_code,
                "entry_ids": [link.entry_id for link in view.entries],
                "entries": [link.model_dump(warnings=False) for link in view.entries],
                "details": details_of(alert.kind, alert.category, alert.details),
            }
        )


class AlertPage(Page[AlertPublic]):
    """A page of alerts."""


class AlertResolve(_Body):
    note: SafeText = Field(min_length=1, max_length=2000)


class DoseReviewDecision(_Body):
    decision: DoseDecision
    note: SafeText = Field(min_length=1, max_length=2000)
