"""The in-app inbox and notification preferences over HTTP: newest first, unread filter and count, only the
recipient reads or marks a notification, and preferences refuse what cannot hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core import clock, outbox
from core.models.outbox import MessageCategory
from core.models.people import Role
from tests.factories import auth_headers, create_staff
from tests.notifications.helpers import dispatcher, people, settings
from tests.urls import API

INBOX = f"{API}/me/notifications"
PREFERENCES = f"{API}/me/notification-preferences"


async def deliver_reminders(
    session: AsyncSession, connection: AsyncConnection, w: object, count: int
) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n in range(count):
        clock.set_now(start + timedelta(minutes=n))
        await outbox.enqueue_about(
            session,
            participant=w.participant,  # type: ignore[attr-defined]
            category=MessageCategory.reminder,
            kind="visit.reminder",
            payload={"summary": f"Visit {n}"},
            key=f"reminder:{n}",
        )
        await dispatcher(connection, settings()).run_once()


async def test_the_inbox_pages_newest_first_and_counts_unread(
    client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    await deliver_reminders(session, connection, w, 3)
    headers = auth_headers(w.guardian)
    first = (await client.get(INBOX, params={"limit": 2}, headers=headers)).json()
    assert [n["body"] for n in first["items"]] == ["Visit 2", "Visit 1"]
    assert first["unread_count"] == 3 and first["next_cursor"]
    assert set(first["items"][0]) == {
        "id",
        "kind",
        "category",
        "severity",
        "title",
        "body",
        "participant_id",
        "created_at",
        "read_at",
    }
    assert first["items"][0]["participant_id"] == str(w.participant.id)
    rest = (
        await client.get(INBOX, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    assert [n["body"] for n in rest["items"]] == ["Visit 0"] and rest["next_cursor"] is None

    read = await client.post(f"{INBOX}/{first['items'][0]['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = (await client.get(INBOX, params={"unread": "true"}, headers=headers)).json()
    assert [n["body"] for n in unread["items"]] == ["Visit 1", "Visit 0"] and unread["unread_count"] == 2
    # the participant has their own copies, untouched by the guardian's reading
    own = (await client.get(INBOX, headers=auth_headers(w.participant_user))).json()
    assert own["unread_count"] == 3


async def test_only_the_recipient_may_mark_a_notification(
    client: httpx.AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    w = await people(session)
    await deliver_reminders(session, connection, w, 1)
    [note] = (await client.get(INBOX, headers=auth_headers(w.guardian))).json()["items"]
    other = await create_staff(session, w.study, Role.coordinator)
    for intruder in (w.participant_user, w.clinician, other):
        answer = await client.post(f"{INBOX}/{note['id']}/read", headers=auth_headers(intruder))
        assert answer.status_code == 404, answer.text
    assert (await client.post(f"{INBOX}/{note['id']}/read")).status_code == 401
    still = (await client.get(INBOX, headers=auth_headers(w.guardian))).json()
    assert still["unread_count"] == 1


async def test_a_malformed_cursor_is_a_422_naming_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await people(session)
    answer = await client.get(INBOX, params={"cursor": "nonsense"}, headers=auth_headers(w.clinician))
    assert answer.status_code == 422 and answer.json()["fields"][0]["path"] == "cursor"


async def test_preferences_round_trip_and_refuse_what_cannot_hold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await people(session)
    headers = auth_headers(w.clinician)
    default = (await client.get(PREFERENCES, headers=headers)).json()
    assert default["channels"]["alert"] == {"in_app": True, "email": True, "webhook": True}
    assert default["quiet_hours"] is None and default["available_channels"] == ["in_app"]
    saved = await client.put(
        PREFERENCES,
        json={
            "channels": {"operational": {"email": False}},
            "quiet_hours": {"start": "22:00", "end": "06:30"},
            "timezone": "Europe/Ljubljana",
        },
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    again = (await client.get(PREFERENCES, headers=headers)).json()
    assert again["channels"]["operational"] == {"in_app": True, "email": False, "webhook": True}
    assert again["channels"]["alert"]["email"] is True
    assert again["quiet_hours"] == {"start": "22:00", "end": "06:30"}
    for body, path in (
        ({"channels": {"alert": {"in_app": False}}}, "channels.alert.in_app"),
        ({"channels": {"gossip": {"email": False}}}, "channels.gossip"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "quiet_hours"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"channels": {"alert": {"email": "no"}}}, "channels.alert.email"),
    ):
        answer = await client.put(PREFERENCES, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert any(f["path"].startswith(path) for f in answer.json()["fields"]), (path, answer.json())


async def test_the_study_warns_of_a_site_without_a_clinician(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await people(session)  # a clinician at S1 only; S2 has none
    answer = await client.get(f"{API}/studies/{w.study.id}", headers=auth_headers(w.coordinator))
    assert answer.status_code == 200, answer.text
    assert answer.json()["warnings"] == [
        "site S2 (Site S2) has no clinician: its clinical alerts go to the study's coordinators"
    ]
    await create_staff(session, w.study, Role.clinician, site_codes=("S2",))
    answer = await client.get(f"{API}/studies/{w.study.id}", headers=auth_headers(w.coordinator))
    assert answer.json()["warnings"] == []
