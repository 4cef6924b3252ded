"""The signed-in user's in-app inbox and notification preferences (`/me/notifications...`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, AuditContextDep, SessionDep
from api.errors import responses
from api.schemas.notifications import NotificationPage, NotificationPublic, PreferencesIn, PreferencesPublic
from core import inbox

router = APIRouter(prefix="/me", tags=["notifications"])


@router.get(
    "/notifications",
    operation_id="listNotifications",
    response_model=NotificationPage,
    responses=responses(401, 422),
)
async def list_notifications(
    session: SessionDep,
    actor: ActorDep,
    unread: Annotated[bool | None, Query(description="true: only unread; false: only read")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NotificationPage:
    """The caller's notifications, newest first, with the number still unread."""
    page = await inbox.list_for(
        session=session, user_id=actor.user_id, unread=unread, limit=limit, cursor=cursor
    )
    return NotificationPage(
        items=[NotificationPublic.of(row) for row in page.items],
        next_cursor=page.next_cursor,
        unread_count=await inbox.unread_count(session=session, user_id=actor.user_id),
    )


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="readNotification",
    response_model=NotificationPublic,
    responses=responses(401, 404),
)
async def read_notification(
    notification_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> NotificationPublic:
    """Mark one of the caller's notifications read (only its recipient may; others get 404)."""
    row = await inbox.mark_read(session=session, user_id=actor.user_id, notification_id=notification_id)
    return NotificationPublic.of(row)


@router.get(
    "/notification-preferences",
    operation_id="getNotificationPreferences",
    response_model=PreferencesPublic,
    responses=responses(401),
)
async def get_preferences(session: SessionDep, actor: ActorDep) -> PreferencesPublic:
    return PreferencesPublic.of(await inbox.preferences(session=session, user_id=actor.user_id))


@router.put(
    "/notification-preferences",
    operation_id="setNotificationPreferences",
    response_model=PreferencesPublic,
    responses=responses(401, 422),
)
async def set_preferences(
    body: PreferencesIn, session: SessionDep, actor: ActorDep, context: AuditContextDep
) -> PreferencesPublic:
    """Replace the caller's channels per category, quiet hours and their time zone (audited)."""
    saved = await inbox.set_preferences(
        session=session,
        user_id=actor.user_id,
        channels={c.value: choice.model_dump() for c, choice in body.channels.items()},
        quiet=(body.quiet_hours.start, body.quiet_hours.end) if body.quiet_hours else None,
        timezone=body.timezone,
        context=context,
    )
    return PreferencesPublic.of(saved)
