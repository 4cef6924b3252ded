"""Sign-in state: rotating refresh tokens, single-use invitations, login throttling, the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import created_at, enum_column, utc_column, uuid_pk
from core.models.people import ParticipantOrGuardian


class ThrottleScope(StrEnum):
    account = "account"  # the e-mail as typed, registered or not
    address = "address"  # the client address


class RefreshToken(SQLModel, table=True):
    """One opaque refresh token (only its SHA-256 is kept); every rotation adds a row to the same family."""

    __tablename__ = "refresh_token"

    id: uuid.UUID = uuid_pk()
    token_hash: str = Field(max_length=64, unique=True)
    family_id: uuid.UUID = Field(index=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = created_at()
    expires_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)
    revoked_at: datetime | None = utc_column(nullable=True)
    replaced_by: uuid.UUID | None = Field(default=None)


class Invitation(SQLModel, table=True):
    """A single-use, expiring code that lets a participant or a guardian create their login."""

    __tablename__ = "invitation"

    id: uuid.UUID = uuid_pk()
    code_hash: str = Field(max_length=64, unique=True)
    participant_id: uuid.UUID = Field(foreign_key="participant.id", index=True)
    role: ParticipantOrGuardian = enum_column(ParticipantOrGuardian, "role", length=20)
    relationship: str = Field(max_length=40)
    created_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = created_at()
    expires_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)
    used_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account (keyed by the e-mail as typed, known or not) and per client address."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: uuid.UUID = uuid_pk()
    scope: str = enum_column(ThrottleScope, "scope", length=10)
    key: str = Field(max_length=320)
    failures: int = Field(default=0)
    last_failure_at: datetime = utc_column()
    blocked_until: datetime | None = utc_column(nullable=True)


class AuditEvent(SQLModel, table=True):
    """Append-only record of who did what to whom; nothing in the service updates or deletes these rows."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: uuid.UUID = uuid_pk()
    occurred_at: datetime = utc_column(default_now=True, index=True)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(max_length=64, index=True)
    subject_type: str = Field(max_length=40)
    subject_id: str | None = Field(default=None, max_length=320)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDocument, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDocument, nullable=True))
    client_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)
    request_id: str | None = Field(default=None, max_length=64)
