"""enqueue(): adds a message row in the caller's transaction; it never sends (notifications/ dispatches).

A rolled-back write therefore leaves no message, and a committed one always has its messages. `enqueue_about`
routes a message about a participant to its recipients (core.recipients) and queues one row for each;
`enqueue_each` does so for each message a job found due, and counts them as the job reports.
`requeue_dead` returns dead letters to the queue (`glucodiary notifications requeue`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock, recipients
from core.db import insert_for
from core.models.outbox import MessageCategory, OutboxMessage, OutboxStatus
from core.models.study import Participant

# urgent and critical messages go out at once, quiet hours or not
HIGH_SEVERITIES = frozenset({"urgent", "critical"})
SEVERITIES = ("info", "warning", "urgent", "critical")


async def enqueue(
    session: AsyncSession,
    *,
    recipient_user_id: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    due_at: datetime | None = None,
    priority: str | None = None,
    category: MessageCategory | str = MessageCategory.alert,
    severity: str = "info",
) -> bool:
    """Queue one message for one recipient; False when a message with `dedup_key` is queued already.

    `kind` is channel-independent (e.g. "alert.raised", "visit.reminder"); the dispatcher picks channels
    from the recipient's preferences for `category`. `payload` names what the message is about (ids, kind,
    severity): never arm information, and only what the templates of notifications/ need.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
    now = clock.now()
    values = {
        "id": uuid.uuid4(),
        "recipient_user_id": recipient_user_id,
        "kind": kind,
        "category": MessageCategory(category).value,
        "severity": severity,
        "priority": priority or ("high" if severity in HIGH_SEVERITIES else "normal"),
        "payload": payload,
        "dedup_key": dedup_key,
        "due_at": due_at or now,
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "created_at": now,
    }
    statement = (
        insert_for(session, OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def enqueue_about(
    session: AsyncSession,
    *,
    participant: Participant,
    category: MessageCategory,
    kind: str,
    payload: dict[str, Any],
    key: str,
    severity: str = "info",
    due_at: datetime | None = None,
) -> list[uuid.UUID]:
    """Queue a message about `participant` for everyone `category` routes to; one row per recipient, keyed
    `{key}:{recipient id}`, so running the same job or rule twice queues nothing twice. Returns the
    recipients newly queued."""
    queued: list[uuid.UUID] = []
    payload = {"participant_id": str(participant.id), **payload}
    for user_id in await recipients.for_category(session=session, participant=participant, category=category):
        if await enqueue(
            session,
            recipient_user_id=user_id,
            kind=kind,
            payload=payload,
            dedup_key=f"{key}:{user_id}",
            due_at=due_at,
            category=category,
            severity=severity,
        ):
            queued.append(user_id)
    return queued


@dataclass(frozen=True)
class MessageKind:
    """What a job queues: the message's kind, the category that routes it, and its severity."""

    kind: str
    category: MessageCategory
    severity: str = "info"


@dataclass(frozen=True)
class Notice:
    """One message a job has found due about a participant, before it is routed to the recipients."""

    participant: Participant
    payload: dict[str, Any]
    key: str


async def enqueue_each(
    session: AsyncSession, message: MessageKind, notices: list[Notice], *, counted: str
) -> dict[str, int]:
    """Queue each of a job's notices for its recipients (enqueue_about); the job's counts: the notices under
    `counted`, the messages newly queued under "queued"."""
    counts = {counted: len(notices), "queued": 0}
    for notice in notices:
        queued = await enqueue_about(
            session,
            participant=notice.participant,
            category=message.category,
            kind=message.kind,
            payload=notice.payload,
            key=notice.key,
            severity=message.severity,
        )
        counts["queued"] += len(queued)
    return counts


@dataclass(frozen=True)
class Requeued:
    requeued: list[uuid.UUID]
    refused: dict[uuid.UUID, str]  # asked for but not requeued: why (no such message, not dead)


async def requeue_dead(
    session: AsyncSession,
    *,
    ids: list[uuid.UUID] | None,
    reason: str,
    context: audit.AuditContext = audit.SYSTEM,
) -> Requeued:
    """Return dead-lettered messages to the queue (`ids`, or every dead one when None), due at once.

    Their delivery attempts stay as they are (the history); `requeued_at` makes the dispatcher count only the
    attempts made from now on, and `attempts` (the back-off's count) starts again. A channel that took the
    message earlier is not sent it again. Each message requeued is an audit event with its state before.
    """
    query = select(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.dead.value)
    if ids is not None:
        query = query.where(col(OutboxMessage.id).in_(ids))
    dead = list(
        (await session.execute(query.order_by(col(OutboxMessage.created_at)).with_for_update())).scalars()
    )
    refused: dict[uuid.UUID, str] = {}
    if ids is not None:
        found = {m.id for m in dead}
        missing = [i for i in ids if i not in found]
        if missing:
            states = await session.execute(
                select(OutboxMessage.id, OutboxMessage.status).where(col(OutboxMessage.id).in_(missing))
            )
            known = {message_id: status for message_id, status in states.all()}
            refused = {
                i: f"not dead-lettered (status {known[i]})" if i in known else "no such message"
                for i in missing
            }
    now = clock.now()
    for message in dead:
        before = {"status": message.status, "attempts": message.attempts, "last_error": message.last_error}
        message.status = OutboxStatus.pending
        message.due_at = now
        message.attempts = 0
        message.claimed_by = message.lease_until = None
        message.requeued_at = now
        session.add(message)
        await audit.record(
            session=session,
            actor_id=None,
            action="notification.requeued",
            subject_type="outbox_message",
            subject_id=message.id,
            before=before,
            after={"status": message.status, "due_at": now, "reason": reason},
            context=context,
        )
    await session.flush()
    return Requeued(requeued=[m.id for m in dead], refused=refused)
