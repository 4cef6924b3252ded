"""The in-app inbox (one row per delivered message) and each user's delivery preferences."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.alerts import Severity
from core.models.base import created_at, enum_column, utc_column, uuid_pk
from core.models.outbox import MessageCategory


class Notification(SQLModel, table=True):
    """What a recipient sees in the app; `message_id` is unique, so a message lands in an inbox once."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_recipient_created", "recipient_user_id", "created_at", "id"),)

    id: uuid.UUID = uuid_pk()
    message_id: uuid.UUID = Field(foreign_key="outbox_message.id", unique=True)
    recipient_user_id: uuid.UUID = Field(foreign_key="user_account.id")
    kind: str = Field(max_length=60)
    category: MessageCategory = enum_column(MessageCategory, "category", length=20)
    severity: Severity = enum_column(Severity, "severity", length=10)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    participant_id: uuid.UUID | None = Field(default=None, foreign_key="participant.id")
    created_at: datetime = created_at()
    read_at: datetime | None = utc_column(nullable=True)


class NotificationPreference(SQLModel, table=True):
    """A user's choices: which channels per category (`channels`), and quiet hours in their time zone."""

    __tablename__ = "notification_preference"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True)
    # {category: {channel: bool}}; a category or channel not named keeps the default (on)
    channels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    quiet_start: str | None = Field(default=None, max_length=5, description="HH:MM local, or none")
    quiet_end: str | None = Field(default=None, max_length=5)
    timezone: str | None = Field(default=None, max_length=64)
    updated_at: datetime = created_at()
