"""What the diary refuses and why: JSON types, times, NUL characters, links, taken ids (each was accepted or a
500 before), and what it now accepts (0 IU, insulin_status)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.models.diary import DiaryEntry, GlucoseReading
from core.protocol import DEFAULT_PROTOCOL, with_overrides
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def _phone(session: AsyncSession, **study: Any) -> tuple[Any, dict[str, str]]:
    participant = await f.create_participant(session, await f.create_study(session, **study))
    return participant, f.auth_headers(await f.participant_user(session, participant))


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {p["path"]: p["message"] for p in response.json()["fields"]}


async def _count(session: AsyncSession, participant: Any) -> int:
    rows = await session.execute(
        select(DiaryEntry.id).where(col(DiaryEntry.participant_id) == participant.id)
    )
    return len(rows.all())


async def test_numbers_are_numbers_and_times_are_iso_text_with_an_offset(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    cases = [
        (entry_body(value="95"), "value", "a number is required", "'95'"),
        (entry_body(value=True), "value", "a number is required", "True"),
        (entry_body("exercise", duration_min="30"), "duration_min", "a whole number is required", "'30'"),
        (entry_body("hypo_event", symptoms="yes"), "symptoms", "true or false", "'yes'"),
        (entry_body(occurred_at=1772433000), "occurred_at", "ISO 8601 text with a UTC offset", "1772433000"),
        (entry_body(entered_at=1772433000), "entered_at", "ISO 8601 text with a UTC offset", "1772433000"),
        (entry_body(occurred_at="2026-03-02T07:30:00+14:30"), "occurred_at", "-14:00 to +14:00", "+14:30"),
        (entry_body(entered_at="0001-01-01T00:00:00+01:00"), "entered_at", "allowed range 1900-2199", "0001"),
        (entry_body(entered_at="9999-12-31T23:59:00+01:00"), "entered_at", "allowed range 1900-2199", "9999"),
        # the device entered it before it happened: a device clock or app bug, not a diary entry
        (entry_body(entered_at="2026-03-02T07:29:00+01:00"), "entered_at", "before occurred_at", "07:29"),
    ]
    for body, path, allowed, value in cases:
        fields = _fields(await client.post(entries_path(participant), json=body, headers=headers))
        assert allowed in fields[path] and value in fields[path], (path, fields)
    assert await _count(session, participant) == 0
    # the edges that stay allowed: an offset of +14:00 (Kiribati), entered the minute it happened
    for body in (
        entry_body(occurred_at="2026-03-02T20:30:00+14:00"),
        entry_body(entered_at="2026-03-02T07:30:00+01:00"),
    ):
        response = await client.post(entries_path(participant), json=body, headers=headers)
        assert response.status_code == 201, response.text


async def test_an_entered_at_in_the_future_is_refused_like_occurred_at(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    body = entry_body(occurred_at="2026-03-02T07:30:00+01:00", entered_at="2099-01-01T00:00:00+01:00")
    fields = _fields(await client.post(entries_path(participant), json=body, headers=headers))
    assert "entered_at" in fields and "in the future" in fields["entered_at"]


NUL = "bad\u0000text"


async def test_a_nul_character_in_any_text_is_refused_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    cases = [
        (entry_body(note=NUL), "note"),
        (entry_body("insulin", product=NUL), "product"),
        (entry_body("insulin", site=NUL), "site"),
        (entry_body("exercise", activity=NUL), "activity"),
        (entry_body("hypo_event", symptom_list=["shaky", NUL]), "symptom_list.1"),
    ]
    for body, path in cases:
        fields = _fields(await client.post(entries_path(participant), json=body, headers=headers))
        assert "NUL" in fields[path], (path, fields)
    stored = entry_body()
    created = await client.post(entries_path(participant), json=stored, headers=headers)
    assert created.status_code == 201
    entry = entries_path(participant, stored["id"])
    edit = await client.patch(entry, json={"version": 1, "reason": NUL, "value": 101}, headers=headers)
    assert "NUL" in _fields(edit)["reason"]
    edit = await client.patch(entry, json={"version": 1, "reason": "typo", "note": NUL}, headers=headers)
    assert "NUL" in _fields(edit)["note"]
    void = await client.delete(entry, params={"reason": NUL}, headers=headers)
    [(path, message)] = _fields(void).items()
    assert path.endswith("reason") and "NUL" in message  # refused for every query parameter (middleware)
    after = await client.get(entry, headers=headers)
    assert after.json()["version"] == 1 and after.json()["voided"] is False


async def test_a_nul_character_rejects_only_its_batch_item(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    items = [entry_body(), entry_body(note=NUL), entry_body("meal"), entry_body("exercise", activity=NUL)]
    response = await client.post(entries_path(participant, "batch"), json={"entries": items}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created", "rejected"]
    assert "NUL" in results[1]["error"]["fields"][0]["message"]
    assert results[1]["error"]["fields"][0]["path"] == "entries.1.note"
    assert results[3]["error"]["fields"][0]["path"] == "entries.3.activity"
    assert await _count(session, participant) == 2


async def test_another_participants_entry_id_answers_the_same_409_as_any_taken_id(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # ids are global (the primary key of diary_entry); a taken id answers one neutral 409, whether the caller's
    # own entry holds it with another body or someone else's entry does: nothing of the other diary shows
    study = await f.create_study(session)
    mine = await f.create_participant(session, study)
    theirs = await f.create_participant(session, study)
    me = f.auth_headers(await f.participant_user(session, mine))
    them = f.auth_headers(await f.participant_user(session, theirs))
    their_entry = entry_body(value=77, note="their private note")
    assert (await client.post(entries_path(theirs), json=their_entry, headers=them)).status_code == 201
    my_entry = entry_body()
    assert (await client.post(entries_path(mine), json=my_entry, headers=me)).status_code == 201

    foreign = await client.post(entries_path(mine), json=their_entry, headers=me)  # the very same body
    own = await client.post(entries_path(mine), json={**my_entry, "value": 99}, headers=me)
    assert foreign.status_code == own.status_code == 409
    assert foreign.json() == _with_id(own.json(), my_entry["id"], their_entry["id"])
    assert "their private note" not in foreign.text and str(theirs.id) not in foreign.text
    assert "received" not in foreign.text  # it said "already received", as if this diary had it

    batch = await client.post(
        entries_path(mine, "batch"),
        json={"entries": [their_entry, {**my_entry, "value": 99}]},
        headers=me,
    )
    first, second = batch.json()["results"]
    assert first["status"] == second["status"] == "rejected"
    assert first["error"]["detail"] == foreign.json()["detail"]
    assert first["error"]["fields"] == [{**foreign.json()["fields"][0], "path": "entries.0.id"}]
    assert "their private note" not in batch.text
    # their entry is untouched and still theirs
    stored = await client.get(entries_path(theirs, their_entry["id"]), headers=them)
    assert stored.json()["version"] == 1 and stored.json()["note"] == "their private note"
    assert (await client.get(entries_path(mine, their_entry["id"]), headers=me)).status_code == 404


def _with_id(document: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """An answer with one id written as another: two answers compared up to the id they name."""
    return json.loads(json.dumps(document).replace(old, new))  # type: ignore[no-any-return]


async def test_links_must_name_an_entry_of_the_right_kind_of_the_same_participant(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    other = await f.create_participant(session, study)
    headers = f.auth_headers(await f.participant_user(session, participant))
    other_headers = f.auth_headers(await f.participant_user(session, other))
    meal, reading = entry_body("meal"), entry_body(context="random")
    their_meal = entry_body("meal")
    for body, who, whose in ((meal, headers, participant), (reading, headers, participant)):
        assert (await client.post(entries_path(whose), json=body, headers=who)).status_code == 201
    assert (await client.post(entries_path(other), json=their_meal, headers=other_headers)).status_code == 201

    nothing = str(uuid.uuid4())
    cases = [
        (
            entry_body(context="postprandial", meal_id=nothing),
            "meal_id",
            "names no entry of this participant",
        ),
        (entry_body(context="postprandial", meal_id=their_meal["id"]), "meal_id", "names no entry"),
        (
            entry_body(context="postprandial", meal_id=reading["id"]),
            "meal_id",
            "names a glucose entry, not a meal",
        ),
        (entry_body("hypo_event", glucose_entry_id=nothing), "glucose_entry_id", "names no entry"),
        (
            entry_body("hypo_event", glucose_entry_id=meal["id"]),
            "glucose_entry_id",
            "names a meal, not a glucose",
        ),
    ]
    for body, path, words in cases:
        fields = _fields(await client.post(entries_path(participant), json=body, headers=headers))
        assert words in fields[path], (path, fields)
    ok = [
        entry_body(context="postprandial", meal_id=meal["id"]),
        entry_body("hypo_event", glucose_entry_id=reading["id"]),
    ]
    for body in ok:
        assert (await client.post(entries_path(participant), json=body, headers=headers)).status_code == 201
    # an edit that points the link elsewhere is checked too
    edit = await client.patch(
        entries_path(participant, ok[0]["id"]),
        json={"version": 1, "reason": "r", "meal_id": nothing},
        headers=headers,
    )
    assert "names no entry" in _fields(edit)["meal_id"]


async def test_a_batch_may_link_to_its_own_entries_and_rejects_only_a_bad_link(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    meal = entry_body("meal", occurred_at="2026-03-02T07:00:00+01:00")
    after = entry_body(
        context="postprandial", occurred_at="2026-03-02T08:30:00+01:00", value=150, meal_id=meal["id"]
    )
    low = entry_body(value=60, context="random")
    event = entry_body("hypo_event", glucose_entry_id=low["id"])
    dangling = entry_body(context="postprandial", meal_id=str(uuid.uuid4()))
    wrong_kind = entry_body("hypo_event", glucose_entry_id=meal["id"])
    items = [after, event, meal, dangling, low, wrong_kind]  # links before the entries they name
    response = await client.post(entries_path(participant, "batch"), json={"entries": items}, headers=headers)
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created",
        "created",
        "created",
        "rejected",
        "created",
        "rejected",
    ]
    assert results[3]["error"]["fields"][0]["path"] == "entries.3.meal_id"
    assert results[5]["error"]["fields"][0]["path"] == "entries.5.glucose_entry_id"


async def test_zero_units_and_insulin_status_are_recorded(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    skipped = entry_body("insulin", units=0)
    stopped = entry_body("insulin_status", status="discontinued", occurred_at="2026-03-03T08:00:00+01:00")
    for body in (skipped, stopped):
        response = await client.post(entries_path(participant), json=body, headers=headers)
        assert response.status_code == 201, response.text
    assert (await client.get(entries_path(participant, skipped["id"]), headers=headers)).json()["units"] == 0
    resumed = entry_body("insulin_status", status="resumed", occurred_at="2026-03-09T08:00:00+01:00")
    batch = await client.post(
        entries_path(participant, "batch"), json={"entries": [resumed]}, headers=headers
    )
    assert batch.json()["results"][0]["status"] == "created"
    listed = await client.get(entries_path(participant), params={"kind": "insulin_status"}, headers=headers)
    assert [e["status"] for e in listed.json()["items"]] == ["resumed", "discontinued"]
    feed = await client.get(f"{API}/participants/{participant.id}/changes", headers=headers)
    assert {c["entry"]["kind"] for c in feed.json()["changes"]} == {"insulin", "insulin_status"}
    bad = entry_body("insulin_status", status="paused")
    assert "status" in _fields(await client.post(entries_path(participant), json=bad, headers=headers))


async def test_value_mg_dl_uses_the_study_protocols_factor(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # a protocol that converts with 18.0 (some labs do): 5.5 mmol/L x 18.0 = 99.0 mg/dL (18.016 would be 99.1)
    protocol = with_overrides(DEFAULT_PROTOCOL, {"glucose": {"mg_dl_per_mmol_l": 18.0}})
    participant, headers = await _phone(session, protocol=protocol)
    single = entry_body(value=5.5, unit="mmol/L", context="random")
    in_batch = entry_body(value=5.5, unit="mmol/L", context="random", occurred_at="2026-03-02T09:00:00+01:00")
    assert (await client.post(entries_path(participant), json=single, headers=headers)).json()[
        "value_mg_dl"
    ] == 99.0
    batch = await client.post(
        entries_path(participant, "batch"), json={"entries": [in_batch]}, headers=headers
    )
    assert batch.json()["results"][0]["entry"]["value_mg_dl"] == 99.0
    edited = await client.patch(
        entries_path(participant, single["id"]),
        json={"version": 1, "reason": "misread", "value": 6.0},
        headers=headers,
    )
    assert edited.json()["value_mg_dl"] == 108.0  # 6.0 x 18.0
    for entry_id, expected in ((single["id"], 108.0), (in_batch["id"], 99.0)):
        reading = await session.get(GlucoseReading, uuid.UUID(entry_id))
        assert reading is not None and reading.value_mg_dl == expected


async def test_a_form_or_text_body_is_told_that_json_is_expected(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, headers = await _phone(session)
    form = {"id": str(uuid.uuid4()), "kind": "glucose", "value": "95"}
    stored = entry_body()
    await client.post(entries_path(participant), json=stored, headers=headers)
    sent = [
        ("POST", entries_path(participant), {"data": form}, "application/x-www-form-urlencoded"),
        ("POST", entries_path(participant, "batch"), {"content": b'{"entries": []}'}, "text/plain"),
        ("PATCH", entries_path(participant, stored["id"]), {"content": b'{"version": 1}'}, None),
    ]
    for method, path, body, media in sent:
        extra = {"content-type": media} if media else {}
        response = await client.request(method, path, headers={**headers, **extra}, **body)  # type: ignore[arg-type]
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "unsupported_media_type"
        assert "takes JSON" in response.json()["detail"] and "application/json" in response.json()["detail"]
    assert await _count(session, participant) == 1


async def test_the_void_reason_is_documented_as_required_and_refused_when_missing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    document = (await client.get("/openapi.json")).json()
    void = document["paths"][API + "/participants/{participant_id}/entries/{entry_id}"]["delete"]
    [reason] = [p for p in void["parameters"] if p["name"] == "reason"]
    assert reason["required"] is True and reason["in"] == "query"
    participant, headers = await _phone(session)
    stored = entry_body()
    await client.post(entries_path(participant), json=stored, headers=headers)
    missing = await client.delete(entries_path(participant, stored["id"]), headers=headers)
    assert missing.status_code == 422
    assert (
        "reason" in missing.json()["fields"][0]["path"]
        and "required" in missing.json()["fields"][0]["message"]
    )
