"""The dispatcher end to end on real receivers: a committed alert reaches the inbox, an aiosmtpd server and a
webhook receiver once; failures retry with back-off and end dead without losing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core import clock, outbox
from core.models.outbox import MessageCategory
from tests.factories import auth_headers, entries_path, entry_body
from tests.notifications.helpers import attempts, dispatcher, inbox, messages, people, settings
from tests.notifications.receivers import closed_port, smtp_server, webhook_receiver
from tests.urls import API

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 12:00 in Ljubljana


async def test_a_low_reading_reaches_inbox_mail_and_webhook_once(
    client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    answer = await client.post(
        entries_path(w.participant),
        json=entry_body(value=45, context="random", occurred_at="2026-03-02T07:30:00+01:00"),
        headers=auth_headers(w.participant_user),
    )
    assert answer.status_code == 201, answer.text
    async with smtp_server() as (port, mailbox), webhook_receiver() as (url, hook):
        config = settings(smtp_host="127.0.0.1", smtp_port=port, webhook_url=url)
        report = await dispatcher(connection, config).run_once()
        again = await dispatcher(connection, config).run_once()
    queued = await messages(session)
    # the clinician (not the coordinator) is told of the level 2 alert and the dose-review suggestion it
    # started; the participant and the guardian get the protocol's note
    assert sorted((m.kind, m.category, str(m.recipient_user_id)) for m in queued) == sorted(
        [
            ("alert.raised", "alert", str(w.clinician.id)),
            ("alert.raised", "dose_review", str(w.clinician.id)),
            ("alert.own_reading", "own_alert", str(w.participant_user.id)),
            ("alert.own_reading", "own_alert", str(w.guardian.id)),
        ]
    )
    assert (report.claimed, report.sent, again.claimed) == (4, 4, 0)
    assert {m.status for m in queued} == {"sent"}
    notes = {n.category: n for n in await inbox(session, w.clinician)}
    note = notes["alert"]
    assert (note.kind, note.severity, note.participant_id) == ("alert.raised", "urgent", w.participant.id)
    assert note.title == f"Urgent alert: hypoglycemia level 2 ({w.participant.subject_code})"
    assert notes["dose_review"].title.startswith("Dose-review suggestion")
    assert await inbox(session, w.coordinator) == []
    [own] = await inbox(session, w.guardian)
    assert "dose" not in own.body.lower() and "insulin" not in own.body.lower()
    # e-mail: one per message, Message-ID from the message id, says there is something to look at, no reading
    assert len(mailbox) == 4
    by_id = {mail["Message-ID"]: mail for mail in mailbox}
    assert set(by_id) == {f"<{m.id}@localhost>" for m in queued}
    clinician_mail = by_id[f"<{next(m.id for m in queued if m.category == 'alert')}@localhost>"]
    assert clinician_mail["To"] == w.clinician.email
    text = clinician_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = clinician_mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "an urgent alert" in text and "an urgent alert" in html
    sms = [orjson.loads(r["body"])["text"] for r in hook.requests]
    for content in (text, html, *sms, *(r["body"].decode() for r in hook.requests)):
        assert "mg/dL" not in content and "hypoglycemia" not in content and '"value"' not in content
        assert w.participant.subject_code not in content and "arm" not in content.lower()
    # webhook: signed, keyed by the message id, each message accepted once
    assert hook.bad_signatures == 0
    assert dict(hook.accepted) == {str(m.id): 1 for m in queued}
    body = orjson.loads(hook.requests[0]["body"])
    assert set(body) == {
        "message_id",
        "kind",
        "category",
        "severity",
        "recipient_user_id",
        "text",
        "created_at",
    }
    for message in queued:
        assert sorted(await attempts(session, message)) == [
            ("email", "sent"),
            ("in_app", "sent"),
            ("webhook", "sent"),
        ]


async def queue_warning(session: AsyncSession, w: object, key: str = "t1", severity: str = "warning") -> None:
    await outbox.enqueue_about(
        session,
        participant=w.participant,  # type: ignore[attr-defined]
        category=MessageCategory.alert,
        kind="alert.raised",
        payload={"kind": "hypoglycemia_level_1", "subject_code": "X", "rule": "r", "protocol_version": 1},
        key=key,
        severity=severity,
    )


async def test_an_unreachable_smtp_server_retries_then_dead_letters(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    config = settings(smtp_host="127.0.0.1", smtp_port=closed_port(), max_attempts=3, backoff_base_s=60)
    first = await dispatcher(connection, config).run_once()
    [message] = await messages(session)
    assert (first.retried, message.status, message.attempts) == (1, "pending", 1)
    assert "ConnectionRefused" in (message.last_error or "")
    # back-off with jitter: between half and all of the base delay; nothing is due before
    assert NOON + timedelta(seconds=30) <= message.due_at <= NOON + timedelta(seconds=60)
    assert (await dispatcher(connection, config).run_once()).claimed == 0
    for expected_attempts, base in ((2, 120), (3, 240)):
        clock.set_now(message.due_at)
        await dispatcher(connection, config).run_once()
        [message] = await messages(session)
        assert message.attempts == expected_attempts
        if expected_attempts == 2:  # the second retry waits longer: 2 x base, jittered
            assert timedelta(seconds=base / 2) <= message.due_at - clock.now() <= timedelta(seconds=base)
    assert message.status == "dead" and "email" in (message.last_error or "")
    # the inbox got it once, at the first attempt; the e-mail was tried max_attempts times
    assert (
        await attempts(session, message)
        == [("email", "retry"), ("in_app", "sent")] + [("email", "retry")] * 2
    )
    assert len(await inbox(session, w.clinician)) == 1


async def test_a_webhook_answering_500_is_retried_until_it_takes_the_message(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    async with webhook_receiver() as (url, hook):
        config = settings(webhook_url=url)
        hook.status = 500
        await dispatcher(connection, config).run_once()
        [message] = await messages(session)
        assert (message.status, message.attempts, message.last_error) == ("pending", 1, "webhook: 500 no")
        hook.status = 200
        clock.set_now(message.due_at)
        await dispatcher(connection, config).run_once()
    [message] = await messages(session)
    assert message.status == "sent"
    assert dict(hook.accepted) == {str(message.id): 1}
    assert len(hook.requests) == 2
    assert hook.requests[0]["headers"]["idempotency-key"] == hook.requests[1]["headers"]["idempotency-key"]


async def test_a_slow_webhook_times_out_and_is_retried(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    async with webhook_receiver() as (url, hook):
        hook.delay = 3.0
        await dispatcher(connection, settings(webhook_url=url, webhook_timeout_s=0.5)).run_once()
    [message] = await messages(session)
    assert message.status == "pending" and "Timeout" in (message.last_error or "")


async def test_a_redirect_is_not_followed_and_the_message_is_dead(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    async with webhook_receiver() as (url, hook):
        hook.status, hook.location = 307, url.replace("/hook", "/elsewhere")
        await dispatcher(connection, settings(webhook_url=url)).run_once()
    [message] = await messages(session)
    assert (
        message.status == "dead"
        and "307" in (message.last_error or "")
        and "/elsewhere" in message.last_error
    )
    assert [r["path"] for r in hook.requests] == ["/hook"]  # nobody went to where it pointed


async def test_a_private_target_is_refused_unless_allow_listed(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    async with webhook_receiver() as (url, hook):
        await dispatcher(connection, settings(webhook_url=url, webhook_allow_hosts=[])).run_once()
    [message] = await messages(session)
    assert message.status == "dead" and "loopback" in (message.last_error or "")
    assert hook.requests == []


async def test_quiet_hours_hold_a_warning_but_not_a_critical_alert(
    client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    answer = await client.put(
        f"{API}/me/notification-preferences",
        json={"quiet_hours": {"start": "22:00", "end": "07:00"}},
        headers=auth_headers(w.clinician),
    )
    assert answer.status_code == 200, answer.text
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 00:30 in Ljubljana (CET, UTC+1)
    clock.set_now(night)
    await queue_warning(session, w, key="warning", severity="warning")
    await queue_warning(session, w, key="critical", severity="critical")
    async with webhook_receiver() as (url, hook):
        config = settings(webhook_url=url)
        await dispatcher(connection, config).run_once()
        held = {m.severity: m for m in await messages(session)}
        assert held["critical"].status == "sent"
        # the warning is in the inbox (silent) but waits for 07:00 local for the webhook
        assert held["warning"].status == "pending"
        assert held["warning"].due_at == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
        assert list(hook.accepted) == [str(held["critical"].id)]
        assert {n.severity for n in await inbox(session, w.clinician)} == {"warning", "critical"}
        clock.set_now(datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
        await dispatcher(connection, config).run_once()
    held = {m.severity: m for m in await messages(session)}
    assert held["warning"].status == "sent" and hook.accepted[str(held["warning"].id)] == 1
    assert await attempts(session, held["warning"]) == [("in_app", "sent"), ("webhook", "sent")]


async def test_an_expired_lease_returns_the_message_to_the_queue(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    from notifications import store

    w = await people(session)
    clock.set_now(NOON)
    await queue_warning(session, w)
    # a dispatcher claims the message and dies before recording anything
    claimed = await store.claim(session, me="killed", now=NOON, lease_s=60, limit=10)
    assert len(claimed) == 1
    assert (await dispatcher(connection, settings()).run_once()).claimed == 0  # the lease holds
    clock.set_now(NOON + timedelta(seconds=61))
    report = await dispatcher(connection, settings(), name="survivor").run_once()
    [message] = await messages(session)
    assert (report.sent, message.status, message.claimed_by) == (1, "sent", None)
