"""Dead letters returned to the queue: a webhook message dead after its attempts, requeued once the gateway
works again, reaches a real receiver once; its earlier attempts stay as history, and the requeue is audited.
`glucodiary notifications requeue` does it from the command line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from core import clock, outbox
from core.models.auth import AuditEvent
from core.models.outbox import MessageCategory, OutboxMessage
from core.models.people import User
from tests.conftest import BACKEND
from tests.core.test_cli import _run
from tests.notifications.helpers import attempts, dispatcher, inbox, messages, people, settings
from tests.notifications.receivers import webhook_receiver

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


async def test_a_requeued_dead_letter_arrives_once_with_its_history_kept(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await outbox.enqueue_about(
        session,
        participant=w.participant,
        category=MessageCategory.alert,
        kind="alert.raised",
        payload={"kind": "hypoglycemia_level_1", "subject_code": "X", "rule": "r", "protocol_version": 1},
        key="requeue",
        severity="warning",
    )
    async with webhook_receiver() as (url, hook):
        config = settings(webhook_url=url, max_attempts=2)
        hook.status = 500
        await dispatcher(connection, config).run_once()
        [message] = await messages(session)
        clock.set_now(message.due_at)
        await dispatcher(connection, config).run_once()
        [message] = await messages(session)
        assert (message.status, message.attempts) == ("dead", 2)
        hook.status = 200  # the gateway is fixed; an operator requeues the dead letter
        clock.set_now(message.due_at + timedelta(minutes=5))
        done = await outbox.requeue_dead(session, ids=[message.id], reason="gateway fixed")
        assert (done.requeued, done.refused) == ([message.id], {})
        [message] = await messages(session)
        assert (message.status, message.attempts, message.requeued_at) == ("pending", 0, clock.now())
        report = await dispatcher(connection, config).run_once()
        again = await dispatcher(connection, config).run_once()
    [message] = await messages(session)
    assert (report.sent, again.claimed, message.status) == (1, 0, "sent")
    assert dict(hook.accepted) == {str(message.id): 1}  # arrived once
    # the two failed tries are still there, then the one that took it; the inbox was not filled twice
    assert await attempts(session, message) == [
        ("in_app", "sent"),
        ("webhook", "retry"),
        ("webhook", "retry"),
        ("webhook", "sent"),
    ]
    assert len(await inbox(session, w.clinician)) == 1
    event = (
        await session.execute(select(AuditEvent).where(col(AuditEvent.action) == "notification.requeued"))
    ).scalar_one()
    assert event.subject_id == str(message.id)
    assert event.before == {"status": "dead", "attempts": 2, "last_error": "webhook: 500 no"}
    assert event.after is not None and event.after["reason"] == "gateway fixed"
    # a message that is not dead (any more), or not there, is named and left alone
    stray = uuid.uuid4()
    twice = await outbox.requeue_dead(session, ids=[message.id, stray], reason="again")
    assert twice.requeued == []
    assert twice.refused == {message.id: "not dead-lettered (status sent)", stray: "no such message"}


@pytest.mark.skipif(BACKEND == "postgres", reason="the command runs on its own SQLite file on either leg")
def test_the_requeue_command(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    made = _run(
        ["admin", "create", "--email", "ops@example.org", "--password-stdin"],
        tmp_path,
        "Violet-Harbour-Kettle-88\n",
    )
    assert made.returncode == 0, made.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'glucodiary.db'}")
    message_id = uuid.uuid4()
    with engine.begin() as db:
        admin = db.execute(select(User.id)).scalar_one()
        now = datetime.now(UTC)
        db.execute(
            OutboxMessage.__table__.insert(),  # type: ignore[attr-defined]
            {
                "id": message_id,
                "recipient_user_id": admin,
                "kind": "alert.raised",
                "category": "alert",
                "severity": "warning",
                "priority": "normal",
                "payload": {},
                "dedup_key": f"cli:{message_id}",
                "due_at": now,
                "status": "dead",
                "attempts": 8,
                "last_error": "webhook: 500 no",
                "created_at": now,
            },
        )
    neither = _run(["notifications", "requeue"], tmp_path)
    assert neither.returncode == 2 and "--all-dead" in neither.stderr
    done = _run(["notifications", "requeue", "--id", str(message_id), "--reason", "gateway fixed"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"requeued {message_id}", "1 message requeued"]
    with engine.connect() as db:
        status, attempts, requeued_at = db.execute(
            select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.requeued_at)
        ).one()
        audited = db.execute(
            text("SELECT user_agent FROM audit_event WHERE action = 'notification.requeued'")
        ).scalar_one()
    assert (status, attempts, requeued_at is not None) == ("pending", 0, True)
    assert audited.startswith("glucodiary notifications requeue (")
    nothing = _run(["notifications", "requeue", "--all-dead"], tmp_path)
    assert nothing.returncode == 0 and nothing.stdout.strip() == "0 messages requeued"
    again = _run(["notifications", "requeue", "--id", str(message_id)], tmp_path)
    assert again.returncode == 1 and "not dead-lettered (status pending)" in again.stderr
    engine.dispose()
