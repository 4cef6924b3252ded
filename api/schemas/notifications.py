"""The in-app inbox and notification preferences as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.inbox import Preferences
from core.models.alerts import Severity
from core.models.notifications import Notification
from core.models.outbox import Channel, MessageCategory

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class NotificationPublic(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="what happened, e.g. alert.raised, visit.reminder")
    category: MessageCategory
    severity: Severity
    title: str
    body: str
    participant_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: Notification) -> NotificationPublic:
        return cls.model_validate(row, from_attributes=True)


class NotificationPage(Page[NotificationPublic]):
    unread_count: int = Field(description="the caller's unread notifications in all (not only this page)")


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=HHMM, description="local time HH:MM when quiet hours begin, e.g. 22:00")
    end: str = Field(
        pattern=HHMM, description="local time HH:MM when they end, e.g. 07:00 (may cross midnight)"
    )


class ChannelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    in_app: bool = Field(default=True, description="always on: false is refused")
    email: bool = True
    webhook: bool = Field(default=True, description="SMS or push through the gateway")


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[MessageCategory, ChannelChoice] = Field(
        default_factory=dict, description="per category; a category not named keeps every channel on"
    )
    quiet_hours: QuietHours | None = Field(
        default=None, description="non-urgent messages wait until they end; urgent and critical ones do not"
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone of the quiet hours; null: the participant's or site's",
    )


class PreferencesPublic(BaseModel):
    channels: dict[MessageCategory, ChannelChoice]
    quiet_hours: QuietHours | None
    timezone: str | None
    available_channels: list[Channel] = Field(description="the channels this service has configured")

    @classmethod
    def of(cls, p: Preferences) -> PreferencesPublic:
        quiet = QuietHours(start=p.quiet_start, end=p.quiet_end) if p.quiet_start and p.quiet_end else None
        return cls(
            channels={MessageCategory(k): ChannelChoice(**v) for k, v in p.channels.items()},
            quiet_hours=quiet,
            timezone=p.timezone,
            available_channels=[Channel(c) for c in p.available],
        )
