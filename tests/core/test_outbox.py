"""The outbox: rows join the caller's transaction, and a de-duplication key queues a message once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock, outbox
from core.models.outbox import OutboxMessage
from core.models.people import Role
from tests.factories import create_user


async def test_a_message_is_queued_once_per_key(session: AsyncSession) -> None:
    clock.set_now(datetime(2026, 3, 2, 8, tzinfo=UTC))
    nurse = await create_user(session, role=Role.clinician)
    key = f"test:{nurse.id}"
    assert await outbox.enqueue(
        session, recipient_user_id=nurse.id, kind="alert.raised", payload={"n": 1}, dedup_key=key
    )
    assert not await outbox.enqueue(
        session, recipient_user_id=nurse.id, kind="alert.raised", payload={"n": 2}, dedup_key=key
    )
    [message] = (
        (await session.execute(select(OutboxMessage).where(col(OutboxMessage.dedup_key) == key)))
        .scalars()
        .all()
    )
    assert (message.payload, message.status, message.attempts) == ({"n": 1}, "pending", 0)
    assert message.due_at == datetime(2026, 3, 2, 8, tzinfo=UTC)


async def test_a_rolled_back_write_leaves_no_message(session: AsyncSession) -> None:
    nurse = await create_user(session, role=Role.clinician)
    key = f"rollback:{nurse.id}"
    savepoint = await session.begin_nested()
    await outbox.enqueue(session, recipient_user_id=nurse.id, kind="alert.raised", payload={}, dedup_key=key)
    await savepoint.rollback()
    assert (
        await session.execute(select(OutboxMessage).where(col(OutboxMessage.dedup_key) == key))
    ).first() is None
