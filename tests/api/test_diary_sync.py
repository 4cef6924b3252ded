"""Offline-first sync: concurrent idempotency, batches where one bad item loses nothing, the changes feed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.db import session_scope
from core.models.diary import DiaryEntry, DiaryEntryVersion
from core.models.people import Role
from core.models.study import Participant
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def _committed_participant() -> tuple[Participant, dict[str, str]]:
    """A participant and their phone's headers, committed (for the tests on real, committing sessions)."""
    async with session_scope() as session:
        study = await f.create_study(session)
        participant = await f.create_participant(session, study)
        return participant, f.auth_headers(await f.participant_user(session, participant))


async def test_the_same_entry_posted_twice_at_once_is_stored_once(
    committing_client: httpx.AsyncClient,
) -> None:
    participant, headers = await _committed_participant()
    path = entries_path(participant)
    body = entry_body(value=63, context="random")
    first, second = await asyncio.gather(
        committing_client.post(path, json=body, headers=headers),
        committing_client.post(path, json=body, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
    assert first.json() == second.json()
    async with session_scope() as session:
        rows = await session.execute(
            select(func.count()).select_from(DiaryEntry).where(col(DiaryEntry.id) == uuid.UUID(body["id"]))
        )
        versions = await session.execute(
            select(func.count())
            .select_from(DiaryEntryVersion)
            .where(col(DiaryEntryVersion.entry_id) == uuid.UUID(body["id"]))
        )
        assert (rows.scalar_one(), versions.scalar_one()) == (1, 1)


async def test_a_batch_with_three_bad_items_stores_the_other_997(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    participant_id = participant.id
    headers = f.auth_headers(await f.participant_user(session, participant))
    items: list[Any] = [
        entry_body(
            occurred_at=f"2026-03-{1 + i // 100:02d}T{6 + (i % 100) // 10:02d}:{(i % 10) * 5:02d}:00+01:00"
        )
        for i in range(1000)
    ]
    items[10] = {**items[10], "value": 700}
    items[500] = {**items[500], "mood": "fine"}
    items[999] = "not an entry"
    response = await client.post(entries_path(participant, "batch"), json={"entries": items}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1000
    rejected = {r["index"]: r for r in results if r["status"] == "rejected"}
    assert set(rejected) == {10, 500, 999}
    assert rejected[10]["error"]["fields"] == [
        {
            "path": "entries.10.value",
            "message": "value 700 mg/dL is outside the allowed range 10-600 mg/dL (0.6-33.3 mmol/L)",
        }
    ]
    assert rejected[500]["error"]["fields"][0]["path"] == "entries.500.mood"
    assert rejected[999]["error"]["fields"][0]["path"] == "entries.999"
    assert sum(r["status"] == "created" for r in results) == 997
    assert all(r["entry"]["id"] == r["id"] for r in results if r["status"] == "created")
    stored = await session.execute(
        select(func.count()).select_from(DiaryEntry).where(col(DiaryEntry.participant_id) == participant_id)
    )
    assert stored.scalar_one() == 997

    # the phone did not get the answer and sends it all again: nothing is stored twice
    again = await client.post(entries_path(participant, "batch"), json={"entries": items}, headers=headers)
    statuses = [r["status"] for r in again.json()["results"]]
    assert statuses.count("duplicate") == 997 and statuses.count("rejected") == 3


async def test_batch_duplicates_within_itself_and_conflicting_ids(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    headers = f.auth_headers(await f.participant_user(session, participant))
    base, batch_path = entries_path(participant), entries_path(participant, "batch")
    stored = entry_body(kind="meal")
    assert (await client.post(base, json=stored, headers=headers)).status_code == 201
    twice = entry_body(kind="exercise")
    items = [twice, twice, {**stored, "carbs_g": 80}, {**twice, "duration_min": 30}]
    results = (await client.post(batch_path, json={"entries": items}, headers=headers)).json()["results"]
    assert [r["status"] for r in results] == ["created", "duplicate", "rejected", "rejected"]
    assert results[1]["entry"] == results[0]["entry"]
    assert results[2]["error"]["error"] == "conflict"
    too_big = await client.post(batch_path, json={"entries": [entry_body()] * 1001}, headers=headers)
    assert too_big.status_code in (413, 422)
    not_a_batch = await client.post(batch_path, json=[entry_body()], headers=headers)
    assert not_a_batch.status_code == 422


async def _pull(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], cursor: str, phone: dict
) -> str:
    """What a phone does after being offline: one loop over /changes, applying each change."""
    while True:
        page = (await client.get(path, params={"since": cursor, "limit": "3"}, headers=headers)).json()
        for change in page["changes"]:
            entry = change["entry"]
            if change["op"] == "void":
                phone.pop(entry["id"], None)
            else:
                phone[entry["id"]] = entry
        cursor = page["cursor"]
        if not page["has_more"]:
            return cursor


async def test_a_phone_pulling_changes_converges_with_the_server(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    guardian = await f.create_guardian(session, participant)
    coordinator = await f.create_staff(session, study, Role.coordinator)
    mine = f.auth_headers(await f.participant_user(session, participant))
    theirs = f.auth_headers(guardian)
    staff = f.auth_headers(coordinator)
    base = entries_path(participant)
    feed = f"{API}/participants/{participant.id}/changes"
    phone: dict[str, dict] = {}

    # the meal comes after the 07:30 reading, so it never bears on how the reading is judged (its version
    # count stays the edits'; test_diary_rejudge.py covers meals that do)
    a, b = entry_body(value=88), entry_body(kind="insulin")
    c = entry_body(kind="meal", occurred_at="2026-03-02T12:30:00+01:00")
    for body in (a, b, c):
        await client.post(base, json=body, headers=mine)
    cursor = await _pull(client, feed, mine, "0", phone)
    assert set(phone) == {a["id"], b["id"], c["id"]}

    batch = [entry_body(kind="weight", kg=60 + i) for i in range(4)]
    await client.post(f"{base}/batch", json={"entries": batch}, headers=theirs)
    await client.patch(f"{base}/{a['id']}", json={"version": 1, "reason": "typo", "value": 86}, headers=mine)
    await client.delete(f"{base}/{b['id']}", params={"reason": "logged twice"}, headers=theirs)
    half = await _pull(client, feed, mine, cursor, phone)
    await client.patch(
        f"{base}/{batch[0]['id']}",
        json={"version": 1, "reason": "clinic scale at visit: 59.2", "kg": 59.2},
        headers=staff,
    )
    await client.delete(f"{base}/{c['id']}", params={"reason": "not eaten"}, headers=staff)
    await client.patch(
        f"{base}/{a['id']}", json={"version": 2, "reason": "paper diary", "value": 85}, headers=staff
    )
    await client.post(base, json=entry_body(kind="exercise"), headers=staff)
    await _pull(client, feed, mine, half, phone)

    server = (await client.get(base, params={"limit": "500"}, headers=mine)).json()["items"]
    assert phone == {e["id"]: e for e in server}
    assert phone[a["id"]]["value"] == 85 and phone[a["id"]]["version"] == 3
    assert b["id"] not in phone and c["id"] not in phone

    # nothing new: the same cursor comes back and no changes
    latest = (await client.get(feed, params={"since": half}, headers=mine)).json()["cursor"]
    quiet = (await client.get(feed, params={"since": latest}, headers=mine)).json()
    assert quiet == {"changes": [], "cursor": latest, "has_more": False}
    malformed = await client.get(feed, params={"since": "garbage!"}, headers=mine)
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["path"] == "since"


async def test_feed_positions_only_grow_across_every_write_path(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    participant_id = participant.id
    headers = f.auth_headers(await f.participant_user(session, participant))
    base = entries_path(participant)
    body = entry_body()
    await client.post(base, json=body, headers=headers)
    await client.post(f"{base}/batch", json={"entries": [entry_body(), entry_body()]}, headers=headers)
    await client.patch(
        f"{base}/{body['id']}", json={"version": 1, "reason": "r", "value": 99}, headers=headers
    )
    await client.delete(f"{base}/{body['id']}", params={"reason": "r"}, headers=headers)
    rows = await session.execute(
        select(DiaryEntry.change_seq)
        .where(col(DiaryEntry.participant_id) == participant_id)
        .order_by(col(DiaryEntry.change_seq))
    )
    # the voided entry moved to the last position; the batch took two positions after the first create
    assert list(rows.scalars()) == [2, 3, 5]


async def test_an_id_stored_between_the_check_and_the_insert_loses_only_its_item(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another request stores an id after this batch looked for existing ids (a race the look-up cannot see):
    # the bulk insert meets the unique key, falls back to one item at a time, and only that item is refused.
    from core.diary import batch as diary_batch

    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    headers = f.auth_headers(await f.participant_user(session, participant))
    raced = entry_body(kind="meal")
    assert (await client.post(entries_path(participant), json=raced, headers=headers)).status_code == 201

    async def nothing_stored_yet(_session: AsyncSession, _ids: list) -> dict:  # type: ignore[type-arg]
        return {}

    monkeypatch.setattr(diary_batch, "_existing", nothing_stored_yet)
    items = [entry_body(value=101), {**raced, "carbs_g": 80}, entry_body(value=102)]
    answer = await client.post(entries_path(participant, "batch"), json={"entries": items}, headers=headers)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert results[1]["error"]["error"] == "conflict"
    listed = (await client.get(entries_path(participant), headers=headers)).json()["items"]
    assert sorted(e.get("value", e.get("carbs_g")) for e in listed) == [45, 101, 102]  # the first meal kept


async def test_reads_through_the_real_sessions_see_every_committed_write(
    committing_client: httpx.AsyncClient,
) -> None:
    # GET requests run without a transaction on PostgreSQL (api/deps.py); what they answer must still be
    # exactly what the writes before them committed, and a refused read must not spoil the next one
    participant, headers = await _committed_participant()
    base = entries_path(participant)
    first = await committing_client.post(base, json=entry_body(value=90), headers=headers)
    second = await committing_client.post(base, json=entry_body(value=95), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    edited = await committing_client.patch(
        f"{base}/{first.json()['id']}", json={"version": 1, "value": 91, "reason": "typo"}, headers=headers
    )
    assert edited.status_code == 200, edited.text
    missing = await committing_client.get(f"{base}/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    one = await committing_client.get(f"{base}/{first.json()['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["value"] == 91 and one.headers["ETag"].endswith('-v2"')
    listed = (await committing_client.get(base, headers=headers)).json()["items"]
    assert sorted(e["value"] for e in listed) == [91, 95]
    feed = await committing_client.get(f"{API}/participants/{participant.id}/changes", headers=headers)
    assert sorted(c["entry"]["value"] for c in feed.json()["changes"]) == [91, 95]
    history = await committing_client.get(f"{base}/{first.json()['id']}/history", headers=headers)
    assert [v["entry"]["value"] for v in history.json()["items"]] == [90, 91]
