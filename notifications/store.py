"""The dispatcher's database side: claim due messages under a lease, read what routing needs, and record a
batch's outcome in one transaction.

Claiming is one statement: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`, so
several dispatchers on PostgreSQL never take the same row, and a row whose lease expired (its dispatcher was
killed mid-send) is due again. SQLite runs one dispatcher; its BEGIN IMMEDIATE serialises claims anyway.
Every write of a batch's outcome is fenced by `claimed_by`: a dispatcher whose lease was taken over changes
nothing of the row (its attempts are still recorded: they happened).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.db import insert_for, is_postgres
from core.models.notifications import Notification, NotificationPreference
from core.models.outbox import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxStatus
from core.models.people import User
from core.models.study import GuardianLink, Participant

MESSAGES = OutboxMessage.__table__  # type: ignore[attr-defined]
CLAIMED_COLUMNS = [
    MESSAGES.c[name]
    for name in (
        "id",
        "recipient_user_id",
        "kind",
        "category",
        "severity",
        "priority",
        "payload",
        "attempts",
        "created_at",
        "requeued_at",
    )
]


@dataclass
class Claimed:
    id: uuid.UUID
    recipient_user_id: uuid.UUID
    kind: str
    category: str
    severity: str
    priority: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    requeued_at: datetime | None = None  # an operator returned it from the dead letters then


@dataclass
class Recipient:
    email: str
    active: bool
    channels: dict[str, Any] = field(default_factory=dict)
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str | None = None


async def claim(session: AsyncSession, *, me: str, now: datetime, lease_s: int, limit: int) -> list[Claimed]:
    due = (
        select(OutboxMessage.id)
        .where(
            col(OutboxMessage.status) == OutboxStatus.pending.value,
            col(OutboxMessage.due_at) <= now,
            or_(col(OutboxMessage.lease_until).is_(None), col(OutboxMessage.lease_until) < now),
        )
        .order_by(col(OutboxMessage.due_at))
        .limit(limit)
    )
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
        .values(claimed_by=me, lease_until=now + timedelta(seconds=lease_s))
        .returning(*CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    return [Claimed(*row) for row in rows]


async def release(session: AsyncSession, *, me: str, ids: list[uuid.UUID] | None = None) -> None:
    """Give back what this dispatcher holds (all of it, or `ids`), due at once for anyone."""
    statement = update(OutboxMessage).where(
        col(OutboxMessage.claimed_by) == me, col(OutboxMessage.status) == OutboxStatus.pending.value
    )
    if ids is not None:
        statement = statement.where(col(OutboxMessage.id).in_(ids))
    await session.execute(
        statement.values(claimed_by=None, lease_until=None).execution_options(synchronize_session=False)
    )


async def renew(session: AsyncSession, *, me: str, ids: list[uuid.UUID], until: datetime) -> None:
    """Extend this dispatcher's lease on `ids` (those it still holds)."""
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.claimed_by) == me)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


async def recipients(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, Recipient]:
    rows = await session.execute(
        select(User.id, User.email, User.active, NotificationPreference)
        .outerjoin(NotificationPreference, col(NotificationPreference.user_id) == col(User.id))
        .where(col(User.id).in_(user_ids))
    )
    found: dict[uuid.UUID, Recipient] = {}
    for user_id, email, active, preference in rows.all():
        recipient = Recipient(email=email, active=active)
        if preference is not None:
            recipient.channels = preference.channels or {}
            recipient.quiet_start, recipient.quiet_end = preference.quiet_start, preference.quiet_end
            recipient.timezone = preference.timezone
        found[user_id] = recipient
    return found


async def local_zones(
    session: AsyncSession, *, user_ids: set[uuid.UUID], participant_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """Time zones for quiet hours when a user set none: a participant's own, a guardian's child's, and
    (for staff) the zone of the participant a message is about."""
    by_user: dict[uuid.UUID, str] = {}
    own = await session.execute(
        select(Participant.user_id, Participant.timezone).where(col(Participant.user_id).in_(user_ids))
    )
    for user_id, tz in own.all():
        by_user[user_id] = tz
    linked = await session.execute(
        select(GuardianLink.guardian_user_id, Participant.timezone)
        .join(Participant, col(Participant.id) == col(GuardianLink.participant_id))
        .where(col(GuardianLink.guardian_user_id).in_(user_ids), col(GuardianLink.active).is_(True))
    )
    for user_id, tz in linked.all():
        by_user.setdefault(user_id, tz)
    by_participant: dict[uuid.UUID, str] = {}
    if participant_ids:
        about = await session.execute(
            select(Participant.id, Participant.timezone).where(col(Participant.id).in_(participant_ids))
        )
        by_participant = {pid: tz for pid, tz in about.all()}
    return by_user, by_participant


@dataclass
class ChannelHistory:
    sent: bool = False
    refused: bool = False
    retries: int = 0


async def history(
    session: AsyncSession, claimed: list[Claimed]
) -> dict[uuid.UUID, dict[str, ChannelHistory]]:
    """What earlier attempts of these messages did, per channel (sent channels are never sent again). Of a
    requeued message, failures before the requeue are history only: they count neither as retries nor as a
    refusal."""
    found: dict[uuid.UUID, dict[str, ChannelHistory]] = defaultdict(lambda: defaultdict(ChannelHistory))
    if not claimed:
        return found
    since = {m.id: m.requeued_at for m in claimed}
    rows = await session.execute(
        select(
            DeliveryAttempt.message_id,
            DeliveryAttempt.channel,
            DeliveryAttempt.outcome,
            DeliveryAttempt.attempted_at,
        ).where(col(DeliveryAttempt.message_id).in_(list(since)))
    )
    for message_id, channel, outcome, attempted_at in rows.all():
        entry = found[message_id][channel]
        if outcome == AttemptOutcome.sent.value:
            entry.sent = True
        elif (requeued := since.get(message_id)) is not None and attempted_at < requeued:
            continue
        elif outcome == AttemptOutcome.refused.value:
            entry.refused = True
        else:
            entry.retries += 1
    return found


async def record(
    session: AsyncSession,
    *,
    me: str,
    attempts: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    outcomes: list[dict[str, Any]],
) -> None:
    """One batch's attempts, inbox rows (once per message, whoever inserts first) and message states."""
    if attempts:
        await session.execute(DeliveryAttempt.__table__.insert(), attempts)  # type: ignore[attr-defined]
    if notifications:
        statement = insert_for(session, Notification).on_conflict_do_nothing(index_elements=["message_id"])
        await session.execute(statement, notifications)
    if outcomes:
        statement = (
            MESSAGES.update()
            .where(MESSAGES.c.id == bindparam("b_id"), MESSAGES.c.claimed_by == me)
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                due_at=bindparam("b_due_at"),
                last_error=bindparam("b_last_error"),
                sent_at=bindparam("b_sent_at"),
                claimed_by=None,
                lease_until=None,
            )
        )
        await session.execute(statement, outcomes)
