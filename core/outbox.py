"""enqueue(): adds a message row in the caller's transaction; it never sends (the dispatcher does, later).

A rolled-back write therefore leaves no message, and a committed one always has its messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import insert_for
from core.models.outbox import OutboxMessage, OutboxStatus


async def enqueue(
    session: AsyncSession,
    *,
    recipient_user_id: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    due_at: datetime | None = None,
    priority: str = "normal",
) -> bool:
    """Queue one message for one recipient; False when a message with `dedup_key` is queued already.

    `kind` is channel-independent (e.g. "alert.raised"); channels and preferences are the dispatcher's.
    """
    values = {
        "id": uuid.uuid4(),
        "recipient_user_id": recipient_user_id,
        "kind": kind,
        "priority": priority,
        "payload": payload,
        "dedup_key": dedup_key,
        "due_at": due_at or clock.now(),
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "created_at": clock.now(),
    }
    statement = (
        insert_for(session, OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
