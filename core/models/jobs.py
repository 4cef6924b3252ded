"""Scheduled job runs: one row per run of a `domain.action` job, with its outcome and what it did."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import enum_column, utc_column, uuid_pk


class JobOutcome(StrEnum):
    ok = "ok"
    failed = "failed"


class JobRun(SQLModel, table=True):
    """One run of a job. A run that found another scheduler running the same job leaves no row."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_name_started_at", "name", "started_at"),)

    id: uuid.UUID = uuid_pk()
    name: str = Field(sa_type=String(60))
    started_at: datetime = utc_column()
    finished_at: datetime = utc_column()
    outcome: JobOutcome = enum_column(JobOutcome, "outcome", length=10)
    # what the run did, e.g. {"queued": 3, "already_queued": 5}
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    error: str | None = Field(default=None, sa_type=Text)
    runner: str = Field(sa_type=String(120), description="host:pid of the scheduler (or CLI) that ran it")
