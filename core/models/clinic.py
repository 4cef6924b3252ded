"""Clinic dashboard sign-in state: one server-side session per browser sign-in (only the id's hash is kept)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from core.models.base import created_at, utc_column, uuid_pk


class ClinicSession(SQLModel, table=True):
    """A staff member signed in to the dashboard in one browser.

    The cookie carries a random id; the row keeps its SHA-256, the CSRF token of its forms, and the user's
    token_version at sign-in (signing out of the API everywhere or changing the password ends it too).
    """

    __tablename__ = "clinic_session"

    id: uuid.UUID = uuid_pk()
    token_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    token_version: int
    csrf_token: str = Field(max_length=64)
    created_at: datetime = created_at()
    last_seen_at: datetime = utc_column(default_now=True)
    expires_at: datetime = utc_column()
    revoked_at: datetime | None = utc_column(nullable=True)
