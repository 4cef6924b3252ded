"""Visit tables: each participant's planned study visits as they stand, and every version of each."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import created_at, enum_column, utc_column, uuid_pk


class VisitStatus(StrEnum):
    planned = "planned"
    completed = "completed"
    missed = "missed"
    cancelled = "cancelled"


class VisitChange(StrEnum):
    """What a version of a visit records."""

    planned = "planned"
    replanned = "replanned"  # day 0 corrected or a new protocol version moved its dates
    completed = "completed"
    corrected = "corrected"  # a completed visit's date or results corrected (with a reason)
    missed = "missed"
    cancelled = "cancelled"


class Visit(SQLModel, table=True):
    """One study visit of one participant as it stands now (every version is also in `visit_version`).

    Dates are the participant's local calendar dates; `month` is unique per participant, so two planners
    running at once (enrolment and the `visits plan` command) never create a visit twice.
    """

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("participant_id", "month"),
        Index("ix_visit_study_id_target_date", "study_id", "target_date"),
        Index("ix_visit_status_window_end", "status", "window_end"),
    )

    id: uuid.UUID = uuid_pk()
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    study_id: uuid.UUID = Field(foreign_key="study.id")
    label: str = Field(sa_type=String(10))
    month: int
    target_date: date
    window_start: date
    window_end: date
    status: VisitStatus = enum_column(VisitStatus, "status", length=10, default=VisitStatus.planned)
    completed_on: date | None = None
    outside_window: bool | None = None
    # the results as entered, unit in each name (hba1c_percent, weight_kg, ...); derived values are computed
    results: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    # derived at completion (HbA1c mmol/mol, CPGR, BMI, IDAA1c) from the results and the diary as it stood then
    derived: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    reason: str | None = Field(default=None, sa_type=Text, description="why missed, cancelled or changed")
    protocol_version: int = Field(description="the protocol version whose plan set the dates")
    version: int = Field(default=1)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = utc_column(default_now=True)
    created_at: datetime = created_at()


class VisitVersion(SQLModel, table=True):
    """Append-only: every version of every visit, whole, with who changed it (None: the system), when, why."""

    __tablename__ = "visit_version"

    visit_id: uuid.UUID = Field(primary_key=True, foreign_key="visit.id")
    version: int = Field(primary_key=True)
    change: VisitChange = enum_column(VisitChange, "change", length=10)
    snapshot: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    changed_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    changed_by_role: str = Field(sa_type=String(20))
    changed_at: datetime = utc_column()
    reason: str | None = Field(default=None, sa_type=Text)
