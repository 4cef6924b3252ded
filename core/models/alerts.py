"""Alert tables: what the rules raised for clinicians, the entries that caused it, and its lifecycle."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import created_at, enum_column, utc_column, uuid_pk
from core.models.diary import DiaryEntry


class AlertKind(StrEnum):
    """The condition an alert is about: a glucose event, an illness report, or a dose-review pattern."""

    hypoglycemia_level_1 = "hypoglycemia_level_1"
    hypoglycemia_level_2 = "hypoglycemia_level_2"
    severe_hypoglycemia = "severe_hypoglycemia"
    illness_reported = "illness_reported"
    ketones_high = "ketones_high"
    ketones_critical = "ketones_critical"
    illness_hospital_visit = "illness_hospital_visit"
    dose_review_basal_increase = "dose_review_basal_increase"
    dose_review_meal_bolus = "dose_review_meal_bolus"
    dose_review_reduction = "dose_review_reduction"
    dose_review_falling_requirement = "dose_review_falling_requirement"


GLUCOSE_EVENT_KINDS = frozenset(
    {AlertKind.hypoglycemia_level_1, AlertKind.hypoglycemia_level_2, AlertKind.severe_hypoglycemia}
)
ILLNESS_KINDS = frozenset(
    {
        AlertKind.illness_reported,
        AlertKind.ketones_high,
        AlertKind.ketones_critical,
        AlertKind.illness_hospital_visit,
    }
)


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    urgent = "urgent"
    critical = "critical"


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class AlertCategory(StrEnum):
    safety = "safety"
    dose_review = "dose_review"


class DoseDecision(StrEnum):
    no_change = "no_change"
    increase = "increase"
    decrease = "decrease"
    contacted_participant = "contacted_participant"


class CauseStatus(StrEnum):
    current = "current"
    corrected = "corrected"
    voided = "voided"
    rejudged = "rejudged"  # a meal logged, moved or voided later changed how the reading is judged


class Alert(SQLModel, table=True):
    """One condition of one participant, raised once and joined by repeats while it is open."""

    __tablename__ = "alert"
    __table_args__ = (
        # folding looks up the open alert of a participant for one condition
        Index("ix_alert_participant_id_fold_key_status", "participant_id", "fold_key", "status"),
        Index("ix_alert_status_created_at", "status", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    site_id: uuid.UUID = Field(foreign_key="site.id")
    kind: AlertKind = enum_column(AlertKind, "kind", length=60)
    category: AlertCategory = enum_column(AlertCategory, "category", length=20)
    severity: Severity = enum_column(Severity, "severity", length=10)
    status: AlertStatus = enum_column(AlertStatus, "status", length=14, default=AlertStatus.open)
    rule: str = Field(max_length=60)
    protocol_version: int
    fold_key: str = Field(max_length=120)
    occurrences: int = Field(default=1)
    # evidence and context of the condition (the readings, days, numbers); never arm information
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    cause_changed: bool = Field(default=False)
    first_occurred_at: datetime = utc_column()
    last_occurred_at: datetime = utc_column()
    acknowledged_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    acknowledged_at: datetime | None = utc_column(nullable=True)
    resolved_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    resolved_at: datetime | None = utc_column(nullable=True)
    resolution_note: str | None = Field(default=None, max_length=2000)
    decision: DoseDecision | None = enum_column(
        DoseDecision, "decision", length=24, nullable=True, default=None
    )
    decision_note: str | None = Field(default=None, max_length=2000)
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = created_at()
    updated_at: datetime = utc_column(default_now=True)


class AlertEntry(SQLModel, table=True):
    """A diary entry that caused (or joined) an alert; a voided or corrected cause is marked, never removed."""

    __tablename__ = "alert_entry"

    alert_id: uuid.UUID = Field(foreign_key="alert.id", primary_key=True)
    entry_id: uuid.UUID = Field(foreign_key="diary_entry.id", primary_key=True, index=True)
    entry_version: int
    cause_status: CauseStatus = enum_column(
        CauseStatus, "cause_status", length=10, default=CauseStatus.current
    )
    linked_at: datetime = created_at()


# The rules look up a participant's entries of one kind in a time range (the last meal before a reading, the
# self-reports, illness and exercise of a window) on every relevant write; without the kind in the index that
# lookup would walk every entry of the range. Declared here, beside the rules' own tables, on the diary's table.
Index(
    "ix_diary_entry_participant_kind_occurred",
    DiaryEntry.__table__.c.participant_id,  # type: ignore[attr-defined]
    DiaryEntry.__table__.c.kind,  # type: ignore[attr-defined]
    DiaryEntry.__table__.c.occurred_at,  # type: ignore[attr-defined]
)
