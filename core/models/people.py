"""People tables: accounts (staff, participants, guardians) and their roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from core.models.base import created_at, enum_column, utc_column, uuid_pk


class Role(StrEnum):
    participant = "participant"
    guardian = "guardian"
    clinician = "clinician"
    coordinator = "coordinator"
    statistician = "statistician"
    admin = "admin"


class StaffRole(StrEnum):
    """The roles staff are given in a study (an admin is not study staff)."""

    clinician = "clinician"
    coordinator = "coordinator"
    statistician = "statistician"


STAFF_ROLES = frozenset(Role(role) for role in StaffRole)


class ParticipantOrGuardian(StrEnum):
    """The participant or a guardian: whom an invitation makes a login for, who gave consent."""

    participant = "participant"
    guardian = "guardian"


class User(SQLModel, table=True):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL
    id: uuid.UUID = uuid_pk()
    # stored lower-cased (core.people normalises), so the unique index is unique ignoring case
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    role: Role = enum_column(Role, "role", length=20)
    active: bool = Field(default=True)
    token_version: int = Field(default=0)
    created_at: datetime = created_at()
    password_changed_at: datetime | None = utc_column(nullable=True)
    last_login_at: datetime | None = utc_column(nullable=True)
