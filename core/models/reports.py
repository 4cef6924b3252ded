"""Report tables: the episode cache (episodes of each participant as of a diary change position), data cuts,
and the endpoint counts stored at the end of each frame."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.diary.kinds import GlucoseUnit
from core.models.base import enum_column, utc_column


class EpisodeState(SQLModel, table=True):
    """Which diary change position and protocol version the participant's cached episodes were computed from.

    The episodes in force are the `hypo_episode` rows with this (change_seq, protocol_version); when the
    participant's `diary_sequence.last_change_seq` or the study's protocol version moves on, they are stale.
    """

    __tablename__ = "episode_state"

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participant.id")
    change_seq: int = Field(sa_type=BigInteger)
    protocol_version: int
    computed_at: datetime = utc_column()


class EpisodeCategory(StrEnum):
    """ADA 2005 categories of CLINICAL.md A2; the last two are reported but never counted as episodes."""

    severe = "severe"
    documented_symptomatic = "documented_symptomatic"
    asymptomatic = "asymptomatic"
    probable_symptomatic = "probable_symptomatic"
    pseudo_hypoglycemia = "pseudo_hypoglycemia"
    unconfirmed = "unconfirmed"  # an event with neither symptoms, nor help, nor a low value


class HypoEpisode(SQLModel, table=True):
    """One episode (or an uncounted report: pseudo-hypoglycemia, unconfirmed) as the detector produced it."""

    __tablename__ = "hypo_episode"
    __table_args__ = (Index("ix_hypo_episode_participant_start", "participant_id", "start_local_date"),)

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participant.id")
    change_seq: int = Field(primary_key=True, sa_type=BigInteger)
    protocol_version: int = Field(primary_key=True)
    ordinal: int = Field(primary_key=True, description="position in start order, from 1")
    start_at: datetime = utc_column()
    end_at: datetime = utc_column()
    start_local_date: date
    level: int
    category: EpisodeCategory = enum_column(EpisodeCategory, "category", length=24)
    counted: bool
    needed_assistance: bool
    nadir_value: float | None = None
    nadir_unit: GlucoseUnit | None = enum_column(
        GlucoseUnit, "nadir_unit", length=8, nullable=True, default=None
    )
    nadir_mg_dl: float | None = None
    readings: int
    entry_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))
    event_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))


class ReportSnapshot(SQLModel, table=True):
    """A data cut: every report of a study frozen at `cut`, stored as the exact bytes served for download."""

    __tablename__ = "report_snapshot"

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    cut: date = Field(description="exclusive local date the reports stop before")
    protocol_version: int
    diary_change_position: int = Field(sa_type=BigInteger, description="sum of the participants' positions")
    content: str = Field(sa_type=Text, description="canonical JSON, served byte for byte")
    content_sha256: str = Field(sa_type=String(64))
    size_bytes: int
    created_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = utc_column()


class EndpointSnapshot(SQLModel, table=True):
    """One participant's endpoint counts for one completed 3-month frame, stored by the `endpoints.snapshot` job
    when the frame ends (CLINICAL.md A3), under the protocol version in force: once per participant, frame and
    protocol version, whatever the diary does afterwards."""

    __tablename__ = "endpoint_snapshot"
    __table_args__ = (UniqueConstraint("participant_id", "frame", "protocol_version"),)

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id")
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    frame: int = Field(description="from 1 (months 0-3 after day 0)")
    frame_start: date
    frame_end: date = Field(description="last local date of the frame (inclusive)")
    protocol_version: int
    change_seq: int = Field(sa_type=BigInteger, description="the participant's diary change position then")
    exposure_days: int
    exposure_years: float
    episodes: int
    level_1: int
    level_2: int
    level_3: int
    severe: int
    documented_symptomatic: int
    asymptomatic: int
    probable_symptomatic: int
    pseudo_hypoglycemia: int
    computed_at: datetime = utc_column()
