"""The transactional outbox: messages written with the change that caused them, delivered later."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.base import created_at, utc_column, uuid_pk


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    dead = "dead"


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient; `dedup_key` is unique, so a repeat never queues it twice."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_due_at", "status", "due_at"),)

    id: uuid.UUID = uuid_pk()
    recipient_user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    kind: str = Field(max_length=60)
    priority: str = Field(default="normal", sa_type=String(10))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    dedup_key: str = Field(max_length=200, unique=True)
    due_at: datetime = utc_column()
    status: str = Field(default=OutboxStatus.pending, sa_type=String(10))
    attempts: int = Field(default=0)
    created_at: datetime = created_at()
