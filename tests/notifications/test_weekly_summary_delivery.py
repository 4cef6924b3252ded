"""The weekly summary end to end: queued by `episodes.weekly_summary`, delivered once to the clinician's inbox,
e-mail and webhook; only the inbox names the participant and the counts."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core import clock
from core.episodes import jobs
from tests.factories import auth_headers, entries_path, entry_body
from tests.notifications.helpers import attempts, dispatcher, inbox, messages, people, settings
from tests.notifications.receivers import smtp_server, webhook_receiver


async def test_the_summary_reaches_inbox_mail_and_webhook_once_without_the_readings(
    client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    clock.set_now(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    low = entry_body(value=45, context="random", occurred_at="2026-03-03T07:30:00+01:00")
    answer = await client.post(
        entries_path(w.participant), json=low, headers=auth_headers(w.participant_user)
    )
    assert answer.status_code == 201, answer.text
    monday = datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    clock.set_now(monday)
    assert (await jobs.weekly_summary(session, monday))["queued"] == 1
    assert (await jobs.weekly_summary(session, monday))["queued"] == 0
    await session.flush()
    async with smtp_server() as (port, mailbox), webhook_receiver() as (url, hook):
        config = settings(smtp_host="127.0.0.1", smtp_port=port, webhook_url=url)
        await dispatcher(connection, config).run_once()
        await dispatcher(connection, config).run_once()
    [summary] = [m for m in await messages(session) if m.kind == jobs.KIND]
    assert summary.recipient_user_id == w.clinician.id and summary.status == "sent"
    assert sorted(await attempts(session, summary)) == [
        ("email", "sent"),
        ("in_app", "sent"),
        ("webhook", "sent"),
    ]
    [note] = [n for n in await inbox(session, w.clinician) if n.kind == jobs.KIND]
    assert (note.category, note.title) == ("summary", "Weekly hypoglycemia summary")
    code = w.participant.subject_code
    assert note.body == (
        "Week 2026-W10 (2026-03-02 to 2026-03-08): 1 hypoglycemic episode in 1 of your 1 participants "
        "(level 1: 0, level 2: 1, level 3: 0). Open each participant's episodes to review them."
    )
    for user in (w.coordinator, w.participant_user, w.guardian):
        assert not [n for n in await inbox(session, user) if n.kind == jobs.KIND]
    mail = next(m for m in mailbox if m["Message-ID"] == f"<{summary.id}@localhost>")
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "a weekly summary" in text and mail["Subject"] == "Glucodiary: a weekly summary"
    sms = next(
        orjson.loads(r["body"])
        for r in hook.requests
        if orjson.loads(r["body"])["message_id"] == str(summary.id)
    )
    assert sms["text"] == "Glucodiary: there is a weekly summary for you. Open the app to see it."
    for content in (text, sms["text"]):
        assert code not in content and "45" not in content and "level" not in content and "arm" not in content
