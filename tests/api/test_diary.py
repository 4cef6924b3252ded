"""The diary over HTTP: create, idempotency, read with ETag, edit with versions, void, history, lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.models.diary import DiaryEntry, DiaryEntryVersion, GlucoseReading
from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body


async def _participant_and_headers(session: AsyncSession):  # type: ignore[no-untyped-def]
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    user = await f.participant_user(session, participant)
    return study, participant, f.auth_headers(user)


async def test_a_glucose_entry_is_stored_with_attribution_and_canonical_value(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, headers = await _participant_and_headers(session)
    body = entry_body(value=5.8, unit="mmol/L", context="fasting", entered_at="2026-03-02T07:31:00+01:00")
    response = await client.post(
        entries_path(participant),
        json=body,
        headers={**headers, "User-Agent": "GlucodiaryApp/2.3.1 (Android 14)"},
    )
    assert response.status_code == 201, response.text
    entry = response.json()
    assert entry["id"] == body["id"] and entry["participant_id"] == str(participant.id)
    assert entry["value"] == 5.8 and entry["unit"] == "mmol/L"
    assert entry["value_mg_dl"] == 104.5  # 5.8 x 18.016 = 104.49
    assert entry["occurred_at"] == "2026-03-02T06:30:00Z"
    assert entry["utc_offset_minutes"] == 60 and entry["local_date"] == "2026-03-02"
    assert entry["recorded_by"]["role"] == "participant" and entry["recorded_by"]["relationship"] == "self"
    assert entry["source_app"] == "GlucodiaryApp" and entry["source_app_version"] == "2.3.1"
    assert entry["version"] == 1 and entry["voided"] is False and entry["late"] is False
    reading = await session.get(GlucoseReading, uuid.UUID(body["id"]))
    assert reading is not None and reading.value == 5.8 and abs(reading.value_mg_dl - 104.493) < 0.001


async def test_same_id_same_body_answers_the_stored_entry_and_a_different_body_conflicts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, headers = await _participant_and_headers(session)
    body = entry_body()
    first = await client.post(entries_path(participant), json=body, headers=headers)
    again = await client.post(
        entries_path(participant), json=dict(reversed(list(body.items()))), headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    changed = await client.post(entries_path(participant), json={**body, "value": 99}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["fields"][0]["path"] == "id"
    rows = await session.execute(select(DiaryEntry).where(col(DiaryEntry.id) == uuid.UUID(body["id"])))
    assert len(rows.all()) == 1


async def test_guardian_and_staff_entries_are_attributed_to_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study, participant, _ = await _participant_and_headers(session)
    guardian = await f.create_guardian(session, participant, relationship="father")
    clinician = await f.create_staff(session, study, Role.clinician)
    by_guardian = await client.post(
        entries_path(participant), json=entry_body(), headers=f.auth_headers(guardian)
    )
    by_staff = await client.post(
        entries_path(participant),
        json=entry_body(note="from the paper diary"),
        headers=f.auth_headers(clinician),
    )
    assert by_guardian.json()["recorded_by"] == {
        "user_id": str(guardian.id),
        "role": "guardian",
        "relationship": "father",
    }
    assert by_staff.status_code == 201
    assert by_staff.json()["recorded_by"]["role"] == "clinician"
    assert by_staff.json()["recorded_by"]["user_id"] == str(clinician.id)


async def test_a_late_entry_is_flagged_not_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, participant, headers = await _participant_and_headers(session)
    on_time = await client.post(
        entries_path(participant), json=entry_body(entered_at="2026-03-02T08:00:00+01:00"), headers=headers
    )
    late = await client.post(entries_path(participant), json=entry_body(), headers=headers)
    assert on_time.json()["late"] is False  # entered on the phone right away, synced two days later
    assert late.status_code == 201 and late.json()["late"] is True


async def test_etag_and_if_none_match(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, participant, headers = await _participant_and_headers(session)
    body = entry_body(kind="weight", kg=62)
    await client.post(entries_path(participant), json=body, headers=headers)
    first = await client.get(entries_path(participant, body["id"]), headers=headers)
    assert first.status_code == 200 and first.json()["kg"] == 62
    etag = first.headers["etag"]
    cached = await client.get(
        entries_path(participant, body["id"]), headers={**headers, "If-None-Match": etag}
    )
    assert cached.status_code == 304 and cached.content == b""
    await client.patch(
        entries_path(participant, body["id"]),
        json={"version": 1, "reason": "typo", "kg": 61},
        headers=headers,
    )
    fresh = await client.get(
        entries_path(participant, body["id"]), headers={**headers, "If-None-Match": etag}
    )
    assert fresh.status_code == 200 and fresh.json()["kg"] == 61 and fresh.headers["etag"] != etag
    missing = await client.get(entries_path(participant, str(uuid.uuid4())), headers=headers)
    assert missing.status_code == 404


async def test_edit_makes_a_new_version_and_keeps_the_old_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study, participant, headers = await _participant_and_headers(session)
    coordinator = await f.create_staff(session, study, Role.coordinator)
    body = entry_body(value=145, context="postprandial", minutes_after_meal=90)
    await client.post(entries_path(participant), json=body, headers=headers)
    edited = await client.patch(
        entries_path(participant, body["id"]),
        json={"version": 1, "reason": "meter showed 154, typed 145", "value": 154},
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["value"] == 154
    assert edited.json()["minutes_after_meal"] == 90  # untouched fields stay
    corrected = await client.patch(
        entries_path(participant, body["id"]),
        json={"reason": "paper diary says 16:10", "occurred_at": "2026-03-02T16:10:00+01:00"},
        headers={**f.auth_headers(coordinator), "If-Match": edited.headers["etag"]},
    )
    assert corrected.status_code == 200, corrected.text
    assert (
        corrected.json()["recorded_by"]["role"] == "participant"
    )  # the enterer stays; the corrector is in history
    reading = await session.get(GlucoseReading, uuid.UUID(body["id"]))
    assert (
        reading is not None
        and reading.value == 154
        and reading.occurred_at == datetime(2026, 3, 2, 15, 10, tzinfo=UTC)
    )

    history = await client.get(entries_path(participant, body["id"], "history"), headers=headers)
    versions = history.json()["items"]
    assert [(v["version"], v["op"], v["reason"]) for v in versions] == [
        (1, "create", None),
        (2, "edit", "meter showed 154, typed 145"),
        (3, "edit", "paper diary says 16:10"),
    ]
    assert [v["entry"]["value"] for v in versions] == [145, 154, 154]
    assert versions[2]["changed_by"] == {"user_id": str(coordinator.id), "role": "coordinator"}


async def test_stale_edit_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, headers = await _participant_and_headers(session)
    body = entry_body(kind="insulin", units=10)
    entry_id = uuid.UUID(body["id"])
    created = await client.post(entries_path(participant), json=body, headers=headers)
    etag_v1 = created.json()["version"]
    path = entries_path(participant, body["id"])
    assert (
        await client.patch(path, json={"version": 1, "reason": "r", "units": 9}, headers=headers)
    ).status_code == 200
    stale = await client.patch(
        path, json={"version": 1, "reason": "other phone", "units": 12}, headers=headers
    )
    assert stale.status_code == 409 and stale.json()["fields"][0]["path"] == "version"
    stale_if_match = await client.patch(
        path,
        json={"reason": "other phone", "units": 12},
        headers={**headers, "If-Match": f'W/"{body["id"]}-v{etag_v1}"'},
    )
    assert stale_if_match.status_code == 412
    no_reason = await client.patch(path, json={"version": 2, "units": 12}, headers=headers)
    assert no_reason.status_code == 422 and no_reason.json()["fields"][0]["path"] == "reason"
    kind_change = await client.patch(
        path, json={"version": 2, "reason": "r", "kind": "meal"}, headers=headers
    )
    assert kind_change.status_code == 422 and kind_change.json()["fields"][0]["path"] == "kind"
    out_of_range = await client.patch(path, json={"version": 2, "reason": "r", "units": 151}, headers=headers)
    assert out_of_range.status_code == 422 and "151" in out_of_range.json()["fields"][0]["message"]
    current = (await client.get(path, headers=headers)).json()
    assert current["version"] == 2 and current["units"] == 9
    versions = await session.execute(
        select(DiaryEntryVersion).where(col(DiaryEntryVersion.entry_id) == entry_id)
    )
    assert len(versions.all()) == 2


async def test_void_keeps_the_entry_in_history_and_a_second_void_conflicts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, headers = await _participant_and_headers(session)
    body = entry_body(value=45)
    base = entries_path(participant)
    await client.post(base, json=body, headers=headers)
    path = entries_path(participant, body["id"])
    no_reason = await client.delete(path, headers=headers)
    assert no_reason.status_code == 422
    voided = await client.delete(path, params={"reason": "control solution, not blood"}, headers=headers)
    assert voided.status_code == 200, voided.text
    assert voided.json()["voided"] is True and voided.json()["version"] == 2
    assert voided.json()["void_reason"] == "control solution, not blood"
    again = await client.delete(path, params={"reason": "again"}, headers=headers)
    assert again.status_code == 409
    edit = await client.patch(path, json={"version": 2, "reason": "r", "value": 50}, headers=headers)
    assert edit.status_code == 409
    history = (await client.get(f"{path}/history", headers=headers)).json()["items"]
    assert [(v["op"], v["entry"]["voided"], v["entry"]["value"]) for v in history] == [
        ("create", False, 45),
        ("void", True, 45),
    ]
    listed = (await client.get(base, headers=headers)).json()["items"]
    assert body["id"] not in {e["id"] for e in listed}
    with_voided = (await client.get(base, params={"include_voided": "true"}, headers=headers)).json()
    assert body["id"] in {e["id"] for e in with_voided["items"]}
    reading = await session.get(GlucoseReading, uuid.UUID(body["id"]))
    assert reading is not None and reading.voided is True


async def test_list_is_newest_first_with_filters_and_keyset_pages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, headers = await _participant_and_headers(session)
    base = entries_path(participant)
    made = []
    for day in range(1, 8):
        for kind in ("glucose", "insulin"):
            body = entry_body(kind=kind, occurred_at=f"2026-03-{day:02d}T07:30:00+01:00")
            made.append(body)
            assert (await client.post(base, json=body, headers=headers)).status_code == 201
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(base, params=params, headers=headers)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 14 and len({e["id"] for e in seen}) == 14
    times = [e["occurred_at"] for e in seen]
    assert times == sorted(times, reverse=True)
    glucose = await client.get(
        base,
        params={"kind": "glucose", "from": "2026-03-03T00:00:00+01:00", "to": "2026-03-05T00:00:00+01:00"},
        headers=headers,
    )
    assert [e["local_date"] for e in glucose.json()["items"]] == ["2026-03-04", "2026-03-03"]
    bad = await client.get(base, params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "cursor"
    bad_kind = await client.get(base, params={"kind": "sleep"}, headers=headers)
    assert bad_kind.status_code == 422


async def test_invalid_entries_name_the_field_the_value_and_the_range(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # frozen in the future of the real clock: tokens are checked against both
    clock.set_now(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
    _, participant, headers = await _participant_and_headers(session)
    base = entries_path(participant)
    cases = [
        (entry_body(value=601), "value", "601 mg/dL is outside the allowed range 10-600 mg/dL"),
        (entry_body(value=33.4, unit="mmol/L"), "value", "33.4 mmol/L is outside the allowed range 0.6-33.3"),
        (entry_body(occurred_at="2026-03-02T07:30:00"), "occurred_at", "timezone"),
        (entry_body(occurred_at="2027-03-10T12:06:00Z"), "occurred_at", "in the future"),
        (
            entry_body(occurred_at="2026-01-04T23:30:00+01:00"),
            "occurred_at",
            "before the participant's enrolment",
        ),
        (entry_body(colour="red"), "colour", "unknown field"),
        (entry_body(unit="mg/dl"), "unit", "mg/dL"),
        ({**entry_body(), "kind": "sleep"}, "kind", "kind must be one of"),
    ]
    for body, path, words in cases:
        response = await client.post(base, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        fields = {p["path"]: p["message"] for p in response.json()["fields"]}
        assert path in fields and words in fields[path], (path, fields)
    on_enrolment_day = await client.post(
        base, json=entry_body(occurred_at="2026-01-05T00:10:00+01:00"), headers=headers
    )
    assert on_enrolment_day.status_code == 201
    within_skew = await client.post(
        base, json=entry_body(occurred_at="2027-03-10T13:05:00+01:00"), headers=headers
    )
    assert within_skew.status_code == 201  # 5 minutes ahead of the server: a phone's clock may run fast
    malformed = await client.post(
        base, content=b'{"kind": "glucose",', headers={**headers, "content-type": "application/json"}
    )
    assert malformed.status_code == 400


async def test_an_entry_at_2330_counts_on_the_local_day_across_dst(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from core.diary.localtime import day_bounds

    _, participant, headers = await _participant_and_headers(session)
    base = entries_path(participant)
    # Europe/Ljubljana: +01:00 until 2026-03-29 02:00, then +02:00; back to +01:00 on 2026-10-25 03:00
    evenings = {
        "2026-03-28T23:30:00+01:00": "2026-03-28",
        "2026-03-29T23:30:00+02:00": "2026-03-29",
        "2026-10-24T23:30:00+02:00": "2026-10-24",
        "2026-10-25T23:30:00+01:00": "2026-10-25",
    }
    ids = {}
    for occurred_at, day in evenings.items():
        answer = (await client.post(base, json=entry_body(occurred_at=occurred_at), headers=headers)).json()
        assert answer["local_date"] == day, answer
        ids[day] = answer["id"]
    assert (await client.get(f"{base}/{ids['2026-03-29']}", headers=headers)).json()["occurred_at"] == (
        "2026-03-29T21:30:00Z"
    )
    for day in ("2026-03-29", "2026-10-25"):
        start, end = day_bounds(__import__("datetime").date.fromisoformat(day), "Europe/Ljubljana")
        listed = await client.get(
            base, params={"from": start.isoformat(), "to": end.isoformat()}, headers=headers
        )
        assert [e["id"] for e in listed.json()["items"]] == [ids[day]]
    reading = await session.get(GlucoseReading, uuid.UUID(ids["2026-10-25"]))
    assert reading is not None and str(reading.local_date) == "2026-10-25"
