"""The transactional outbox: messages written with the change that caused them, delivered later, and every
delivery attempt the dispatcher made."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from core.db import JSONDocument
from core.models.alerts import Severity
from core.models.base import created_at, enum_column, utc_column, uuid_pk


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting for its due time, or claimed by a dispatcher (lease_until in the future)
    sent = "sent"  # every channel it was routed to took it
    failed = "failed"  # kept for rows written before delivery existed; the dispatcher never sets it
    dead = "dead"  # a channel refused it for good or ran out of attempts: an operator looks at it


class MessageCategory(StrEnum):
    """What a message is about; preferences choose channels per category."""

    alert = "alert"  # a clinical alert, to the clinicians (or coordinators) of the participant's site
    dose_review = "dose_review"  # a dose-review suggestion, to clinicians only
    operational = "operational"  # missed visit, silent diary: to coordinators
    reminder = "reminder"  # visit and diary reminders, to the participant and guardians
    own_alert = "own_alert"  # a protocol-worded note to a participant whose own reading raised an alert
    summary = "summary"  # the weekly hypoglycemia summary, to each clinician about their participants


class Channel(StrEnum):
    in_app = "in_app"
    email = "email"
    webhook = "webhook"


class AttemptOutcome(StrEnum):
    sent = "sent"
    retry = "retry"  # a failure worth trying again (timeout, connection refused, 5xx, 429)
    refused = "refused"  # a failure that will not change by retrying (4xx, redirect, a forbidden target)


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient; `dedup_key` is unique, so a repeat never queues it twice."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_due_at", "status", "due_at"),)

    id: uuid.UUID = uuid_pk()
    recipient_user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    kind: str = Field(max_length=60)
    category: MessageCategory = enum_column(
        MessageCategory, "category", length=20, default=MessageCategory.alert
    )
    severity: Severity = enum_column(Severity, "severity", length=10, default=Severity.info)
    priority: str = Field(default="normal", sa_type=String(10))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDocument, nullable=False))
    dedup_key: str = Field(max_length=200, unique=True)
    due_at: datetime = utc_column()
    status: OutboxStatus = enum_column(OutboxStatus, "status", length=10, default=OutboxStatus.pending)
    attempts: int = Field(default=0)
    # the lease: which dispatcher holds the row and until when (an expired lease returns it to the queue)
    claimed_by: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = utc_column(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = utc_column(nullable=True)
    # a dead letter returned to the queue by an operator: attempts before it are history, not counted again
    requeued_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = created_at()


class DeliveryAttempt(SQLModel, table=True):
    """One try of one channel for one message: the dispatcher's record of what it did and what it heard."""

    __tablename__ = "delivery_attempt"

    id: uuid.UUID = uuid_pk()
    message_id: uuid.UUID = Field(foreign_key="outbox_message.id", index=True)
    channel: Channel = enum_column(Channel, "channel", length=10)
    outcome: AttemptOutcome = enum_column(AttemptOutcome, "outcome", length=10)
    provider_answer: str = Field(default="", max_length=500)
    latency_ms: int = Field(default=0)
    dispatcher: str = Field(max_length=80)
    attempted_at: datetime = utc_column()
