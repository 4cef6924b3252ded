"""Study tables: studies, their versioned protocol, sites, arms, staff assignments, participants, guardians."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import created_at, enum_column, utc_column, uuid_pk
from core.models.people import ParticipantOrGuardian, Role


class ParticipantStatus(StrEnum):
    screening = "screening"
    enrolled = "enrolled"
    withdrawn = "withdrawn"
    completed = "completed"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class Study(SQLModel, table=True):
    __tablename__ = "study"

    id: uuid.UUID = uuid_pk()
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    blinded: bool = Field(default=True)
    protocol_version: int = Field(default=1, description="the version in force")
    created_at: datetime = created_at()


class ProtocolVersion(SQLModel, table=True):
    """Every protocol configuration a study ever had; alerts and reports name the version they used."""

    __tablename__ = "protocol_version"
    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: uuid.UUID = uuid_pk()
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    version: int
    settings: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    created_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at()


class Site(SQLModel, table=True):
    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: uuid.UUID = uuid_pk()
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    timezone: str = Field(max_length=64)


class Arm(SQLModel, table=True):
    __tablename__ = "arm"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: uuid.UUID = uuid_pk()
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)


class StaffAssignment(SQLModel, table=True):
    """A staff user's role in a study, at one site (site_id set) or study-wide (site_id null)."""

    __tablename__ = "staff_assignment"
    __table_args__ = (UniqueConstraint("user_id", "study_id", "site_id"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    site_id: uuid.UUID | None = Field(default=None, foreign_key="site.id", index=True)
    role: Role = enum_column(Role, "role", length=20)
    created_at: datetime = created_at()


class Participant(SQLModel, table=True):
    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("study_id", "subject_code"),)

    id: uuid.UUID = uuid_pk()
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    site_id: uuid.UUID = Field(foreign_key="site.id", index=True)
    arm_id: uuid.UUID | None = Field(default=None, foreign_key="arm.id")
    subject_code: str = Field(max_length=40)
    user_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("user_account.id"), unique=True, nullable=True)
    )
    sex: Sex = enum_column(Sex, "sex", length=10)
    birth_date: date
    diagnosis_date: date | None = None
    height_cm: float | None = None
    enrolled_at: datetime = utc_column()
    treatment_date: date
    status: ParticipantStatus = enum_column(
        ParticipantStatus, "status", length=12, default=ParticipantStatus.enrolled
    )
    timezone: str = Field(max_length=64)
    withdrawn_at: datetime | None = utc_column(nullable=True)
    consent_given_by: ParticipantOrGuardian | None = enum_column(
        ParticipantOrGuardian, "consent_given_by", length=12, nullable=True, default=None
    )
    consent_date: date | None = None
    consent_form_version: str | None = Field(default=None, max_length=40)
    eligibility_override: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONDocument, nullable=True)
    )
    created_at: datetime = created_at()


class ParticipantWeight(SQLModel, table=True):
    """Body weight history (kg), from enrolment, visits and the diary; used for IU/kg/day."""

    __tablename__ = "participant_weight"

    id: uuid.UUID = uuid_pk()
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    measured_at: datetime = utc_column()
    kg: float
    source: str = Field(max_length=20)
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class GuardianLink(SQLModel, table=True):
    __tablename__ = "guardian_link"
    __table_args__ = (UniqueConstraint("guardian_user_id", "participant_id"),)

    id: uuid.UUID = uuid_pk()
    guardian_user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    relationship: str = Field(max_length=40)
    active: bool = Field(default=True)
    created_at: datetime = created_at()


class RandomisationSlot(SQLModel, table=True):
    """One line of a study's randomisation list: the arm for the n-th participant of a site and stratum.

    Uploaded by an unblinded statistician; an enrolment takes the lowest free sequence (participant_id set once,
    never changed). Only unblinded roles ever see `arm_id` (through the participant's arm).
    """

    __tablename__ = "randomisation_slot"
    __table_args__ = (UniqueConstraint("study_id", "site_id", "stratum", "sequence"),)

    id: uuid.UUID = uuid_pk()
    study_id: uuid.UUID = Field(foreign_key="study.id", index=True)
    site_id: uuid.UUID = Field(foreign_key="site.id")
    stratum: str = Field(default="", max_length=40)
    sequence: int
    arm_id: uuid.UUID = Field(foreign_key="arm.id")
    participant_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("participant.id"), unique=True, nullable=True)
    )
    assigned_at: datetime | None = utc_column(nullable=True)
    uploaded_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = created_at()
