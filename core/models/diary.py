"""Diary tables: entries (every kind), glucose readings for SQL aggregation, every version, the feed counter."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index, String, Text, false
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.diary.kinds import GlucoseContext, GlucoseSource, GlucoseUnit, Kind
from core.models.base import enum_column, utc_column
from core.models.people import Role


class DiaryEntry(SQLModel, table=True):
    """One diary record as it stands now; `data` holds the kind's own fields under the names of API.md.

    The row is the current version only: every version (the first included) is also kept, whole, as its audit
    record in `diary_entry_version`. `change_seq` is the participant's feed position of the latest write to it.
    """

    __tablename__ = "diary_entry"
    __table_args__ = (
        Index("ix_diary_entry_participant_occurred", "participant_id", "occurred_at", "id"),
        Index("ix_diary_entry_participant_local_date", "participant_id", "local_date"),
        Index("ix_diary_entry_participant_change_seq", "participant_id", "change_seq", unique=True),
    )

    id: uuid.UUID = Field(primary_key=True, description="the client's UUID, the idempotency key")
    participant_id: uuid.UUID = Field(foreign_key="participant.id")
    kind: Kind = enum_column(Kind, "kind", length=16)
    occurred_at: datetime = utc_column()
    utc_offset_minutes: int
    local_date: date
    entered_at: datetime | None = utc_column(nullable=True)
    received_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    recorded_by_user_id: uuid.UUID = Field(foreign_key="user_account.id")
    recorded_by_role: Role = enum_column(Role, "recorded_by_role", length=20)
    relationship: str = Field(sa_type=String(40))
    source_app: str | None = Field(default=None, sa_type=String(80))
    source_app_version: str | None = Field(default=None, sa_type=String(40))
    note: str | None = Field(default=None, sa_type=Text)
    version: int = Field(default=1)
    voided: bool = Field(default=False)
    void_reason: str | None = Field(default=None, sa_type=Text)
    late: bool = Field(default=False)
    # a run-in day before enrolment, entered retrospectively by study staff (the baseline period)
    run_in: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))
    alert_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    body_hash: str = Field(sa_type=String(64))
    change_seq: int = Field(sa_type=BigInteger)


class GlucoseReading(SQLModel, table=True):
    """Glucose entries again, one typed row each, so reports aggregate millions of readings in SQL."""

    __tablename__ = "glucose_reading"
    __table_args__ = (Index("ix_glucose_reading_participant_occurred", "participant_id", "occurred_at"),)

    entry_id: uuid.UUID = Field(primary_key=True, foreign_key="diary_entry.id")
    participant_id: uuid.UUID = Field(foreign_key="participant.id")
    occurred_at: datetime = utc_column()
    local_date: date
    value: float = Field(description="as entered, in `unit`")
    unit: GlucoseUnit = enum_column(GlucoseUnit, "unit", length=8)
    value_mg_dl: float = Field(description="canonical: mmol/L x 18.016, or the mg/dL value")
    context: GlucoseContext = enum_column(GlucoseContext, "context", length=16)
    minutes_after_meal: int | None = None
    meal_id: uuid.UUID | None = None
    source: GlucoseSource | None = enum_column(
        GlucoseSource, "source", length=10, nullable=True, default=None
    )
    voided: bool = Field(default=False)


class VersionOp(StrEnum):
    """What made a version: the first write, an edit, a void, or the rules judging a reading again."""

    create = "create"
    edit = "edit"
    void = "void"
    rejudge = "rejudge"


class DiaryEntryVersion(SQLModel, table=True):
    """Append-only: every version of every entry, whole, with who changed it, when and why."""

    __tablename__ = "diary_entry_version"

    entry_id: uuid.UUID = Field(primary_key=True, foreign_key="diary_entry.id")
    version: int = Field(primary_key=True)
    op: VersionOp = enum_column(VersionOp, "op", length=8)
    # the entry whole as it stood at this version (core.diary.entries.audit_record): the record of what was
    # committed, in the shape it was stored in; answers are rendered by api/ from the current row instead
    audit_record: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    changed_by_user_id: uuid.UUID = Field(foreign_key="user_account.id")
    changed_by_role: Role = enum_column(Role, "changed_by_role", length=20)
    changed_at: datetime = utc_column()
    reason: str | None = Field(default=None, sa_type=Text)


class DiarySequence(SQLModel, table=True):
    """The participant's changes-feed counter; bumping it locks the row, so commit order == cursor order."""

    __tablename__ = "diary_sequence"

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participant.id")
    last_change_seq: int = Field(default=0, sa_type=BigInteger)
