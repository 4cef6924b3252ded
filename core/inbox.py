"""The in-app inbox and delivery preferences of the signed-in user (what GET/POST /me/notifications... read).

Only the recipient ever sees or marks a notification: every query is bound to the caller's user id, so a
notification of someone else is simply not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.config import get_settings
from core.errors import FieldProblem, InvalidInput, NotFound
from core.models.notifications import Notification, NotificationPreference
from core.models.outbox import Channel, MessageCategory
from core.pagination import Page, SortKey, paginate

NEWEST_FIRST = [
    SortKey(col(Notification.created_at), datetime, descending=True),
    SortKey(col(Notification.id), uuid.UUID, descending=True),
]


async def list_for(
    *, session: AsyncSession, user_id: uuid.UUID, unread: bool | None, limit: int, cursor: str | None
) -> Page[Notification]:
    query = select(Notification).where(col(Notification.recipient_user_id) == user_id)
    if unread is True:
        query = query.where(col(Notification.read_at).is_(None))
    elif unread is False:
        query = query.where(col(Notification.read_at).is_not(None))
    page = await paginate(session, query, keys=NEWEST_FIRST, limit=limit, cursor=cursor)
    return Page([row[0] for row in page.items], page.next_cursor)


async def unread_count(*, session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.recipient_user_id) == user_id, col(Notification.read_at).is_(None))
    )
    return int(result.scalar_one())


async def mark_read(*, session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    """Mark one's own notification read (again: keeps the first time); anyone else's is not found."""
    found = (
        await session.execute(
            select(Notification).where(
                col(Notification.id) == notification_id, col(Notification.recipient_user_id) == user_id
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("No such notification.")
    if found.read_at is None:
        found.read_at = clock.now()
        await session.flush()
    return found


@dataclass
class Preferences:
    """Channels per category (in-app always on), quiet hours (local HH:MM) and the time zone they are in."""

    channels: dict[str, dict[str, bool]] = field(default_factory=dict)
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str | None = None
    available: list[str] = field(default_factory=list)


def available_channels() -> list[str]:
    settings = get_settings().notifications
    return [
        Channel.in_app.value,
        *([Channel.email.value] if settings.smtp_host else []),
        *([Channel.webhook.value] if settings.webhook_url else []),
    ]


def _complete(chosen: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Every category and channel, with the user's choices over the default (on)."""
    return {
        category.value: {
            channel.value: channel is Channel.in_app
            or bool(chosen.get(category.value, {}).get(channel.value, True))
            for channel in Channel
        }
        for category in MessageCategory
    }


async def preferences(*, session: AsyncSession, user_id: uuid.UUID) -> Preferences:
    row = await session.get(NotificationPreference, user_id)
    if row is None:
        return Preferences(channels=_complete({}), available=available_channels())
    return Preferences(
        channels=_complete(row.channels),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        timezone=row.timezone,
        available=available_channels(),
    )


def _check(channels: dict[str, dict[str, bool]], quiet: tuple[str, str] | None, timezone: str | None) -> None:
    problems = [
        FieldProblem(
            f"channels.{category}.in_app",
            "the in-app inbox is always on (false given); turn off e-mail or webhook",
        )
        for category, chosen in channels.items()
        if chosen.get(Channel.in_app.value) is False
    ]
    if quiet is not None and quiet[0] == quiet[1]:
        problems.append(
            FieldProblem("quiet_hours", f"start and end are both {quiet[0]}: give a period, or null")
        )
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                FieldProblem("timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Ljubljana)")
            )
    if problems:
        raise InvalidInput("These notification preferences cannot be saved.", fields=problems)


async def set_preferences(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    channels: dict[str, dict[str, bool]],
    quiet: tuple[str, str] | None,
    timezone: str | None,
    context: audit.AuditContext,
) -> Preferences:
    """Replace the user's preferences (categories or channels not named stay on); audited."""
    _check(channels, quiet, timezone)
    before = await preferences(session=session, user_id=user_id)
    row = await session.get(NotificationPreference, user_id)
    if row is None:
        row = NotificationPreference(user_id=user_id)
        session.add(row)
    row.channels = {category: dict(chosen) for category, chosen in channels.items()}
    row.quiet_start, row.quiet_end = quiet if quiet is not None else (None, None)
    row.timezone = timezone
    row.updated_at = clock.now()
    await session.flush()
    after = await preferences(session=session, user_id=user_id)
    await audit.record(
        session=session,
        actor_id=user_id,
        action="notification_preferences.update",
        subject_type="user",
        subject_id=user_id,
        before=_audited(before),
        after=_audited(after),
        context=context,
    )
    return after


def _audited(p: Preferences) -> dict[str, Any]:
    return {"channels": p.channels, "quiet_hours": [p.quiet_start, p.quiet_end], "timezone": p.timezone}
