"""A meal that arrives after the readings it bears on: the readings are judged again, as a new version.

A phone syncing offline entries one at a time may send the 08:30 reading before the 07:00 breakfast. The
flags must end up as if the meal had come first, visibly (a new version with its reason, a new place in the
changes feed), without reopening alerts a clinician already resolved.

Protocol defaults (CLINICAL.md part A): fasting 70-110 mg/dL, judged only with no meal in the 8 h before;
postprandial judged 60-180 min after the meal start against < 140 mg/dL; level 1 hypoglycemia < 70 mg/dL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API

ALERTS = f"{API}/alerts"


async def _world(session: AsyncSession) -> dict[str, Any]:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    user = await f.participant_user(session, participant)
    clinician = await f.create_staff(session, study, Role.clinician)
    return {
        "participant": participant,
        "phone": f.auth_headers(user),
        "clinician": f.auth_headers(clinician),
    }


async def _post(client: httpx.AsyncClient, w: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(entries_path(w["participant"]), json=body, headers=w["phone"])
    assert response.status_code == 201, response.text
    return response.json()


async def _get(client: httpx.AsyncClient, w: dict[str, Any], entry_id: str) -> dict[str, Any]:
    response = await client.get(entries_path(w["participant"], entry_id), headers=w["phone"])
    assert response.status_code == 200, response.text
    return response.json()


def _meal(at: str) -> dict[str, Any]:
    return entry_body("meal", occurred_at=at, meal_type="breakfast", carbs_g=50)


def _reading(at: str, value: float, context: str) -> dict[str, Any]:
    return entry_body(occurred_at=at, value=value, unit="mg/dL", context=context)


async def test_a_fasting_reading_sent_before_its_meal_is_judged_again_as_a_new_version(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    # 12:00 "fasting" 120 mg/dL, no meal known: a fasting value above 110
    reading = await _post(client, w, _reading("2026-03-02T12:00:00+01:00", 120, "fasting"))
    assert reading["flags"] == ["fasting_above_range"] and reading["version"] == 1
    feed = (await client.get(f"{API}/participants/{w['participant'].id}/changes", headers=w["phone"])).json()
    # breakfast at 09:00 arrives later: 3 h before the reading, inside the 8 h, so not a fasting value
    await _post(client, w, _meal("2026-03-02T09:00:00+01:00"))
    now = await _get(client, w, reading["id"])
    assert now["flags"] == ["fasting_after_meal"] and now["version"] == 2
    history = (
        await client.get(entries_path(w["participant"], reading["id"], "history"), headers=w["phone"])
    ).json()["items"]
    assert [v["op"] for v in history] == ["create", "rejudge"]
    assert history[0]["entry"]["flags"] == ["fasting_above_range"]  # what was shown before stays readable
    assert "meal" in history[1]["reason"] and history[1]["changed_by"]["role"] == "participant"
    # a phone pulling the feed from where it was sees the reading again, after the meal
    later = (
        await client.get(
            f"{API}/participants/{w['participant'].id}/changes",
            params={"since": feed["cursor"]},
            headers=w["phone"],
        )
    ).json()["changes"]
    assert [c["entry"]["kind"] for c in later] == ["meal", "glucose"]
    assert later[1]["entry"]["flags"] == ["fasting_after_meal"]


async def test_moving_and_voiding_the_meal_judges_the_postprandial_reading_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    # 08:30 postprandial 150 mg/dL with no meal known: judged against the limit (>= 140)
    reading = await _post(client, w, _reading("2026-03-02T08:30:00+01:00", 150, "postprandial"))
    assert reading["flags"] == ["postprandial_above_limit"]
    # breakfast at 08:20: 10 min before the reading, outside 60-180 min, so the value is not judged
    meal = await _post(client, w, _meal("2026-03-02T08:20:00+01:00"))
    assert (await _get(client, w, reading["id"]))["flags"] == ["postprandial_mistimed"]
    # corrected to 07:00: 90 min before, judged again, above the limit
    moved = await client.patch(
        entries_path(w["participant"], meal["id"]),
        json={"version": 1, "occurred_at": "2026-03-02T07:00:00+01:00", "reason": "wrong time"},
        headers=w["phone"],
    )
    assert moved.status_code == 200, moved.text
    assert (await _get(client, w, reading["id"]))["flags"] == ["postprandial_above_limit"]
    # the meal voided: no meal known again, judged against the limit as at first
    voided = await client.delete(
        entries_path(w["participant"], meal["id"]), params={"reason": "logged twice"}, headers=w["phone"]
    )
    assert voided.status_code == 200, voided.text
    final = await _get(client, w, reading["id"])
    # with no meal the value is judged against the limit again, as with the 07:00 meal: same flags, no version
    assert final["flags"] == ["postprandial_above_limit"] and final["version"] == 3
    history = (
        await client.get(entries_path(w["participant"], reading["id"], "history"), headers=w["phone"])
    ).json()["items"]
    assert [(v["op"], v["entry"]["flags"]) for v in history] == [
        ("create", ["postprandial_above_limit"]),
        ("rejudge", ["postprandial_mistimed"]),
        ("rejudge", ["postprandial_above_limit"]),
    ]


async def test_order_of_arrival_does_not_change_the_flags(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first, second = await _world(session), await _world(session)
    day = [
        _meal("2026-03-02T07:00:00+01:00"),
        _reading("2026-03-02T06:45:00+01:00", 125, "fasting"),  # before the meal: fasting above 110
        _reading("2026-03-02T08:30:00+01:00", 150, "postprandial"),  # 90 min after: above 140
        _reading("2026-03-02T09:00:00+01:00", 100, "fasting"),  # 2 h after the meal: not fasting
    ]
    expected = [[], ["fasting_above_range"], ["postprandial_above_limit"], ["fasting_after_meal"]]
    results = {}
    for w, order in ((first, [0, 1, 2, 3]), (second, [3, 2, 1, 0])):
        ids = {}
        for index in order:
            body = {**day[index], "id": entry_body()["id"]}
            ids[index] = (await _post(client, w, body))["id"]
        results[id(w)] = [(await _get(client, w, ids[i]))["flags"] for i in range(4)]
    assert results[id(first)] == expected and results[id(second)] == expected


async def test_a_meal_in_a_later_batch_judges_stored_readings_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    reading = await _post(client, w, _reading("2026-03-02T12:00:00+01:00", 120, "fasting"))
    batch = await client.post(
        entries_path(w["participant"], "batch"),
        json={
            "entries": [
                _meal("2026-03-02T09:00:00+01:00"),
                _reading("2026-03-02T21:30:00+01:00", 95, "fasting"),
            ]
        },
        headers=w["phone"],
    )
    assert [r["status"] for r in batch.json()["results"]] == ["created", "created"]
    assert (await _get(client, w, reading["id"]))["flags"] == ["fasting_after_meal"]
    # the batch's own reading was judged with the meal present (12.5 h after it: a true fasting value)
    assert (
        batch.json()["results"][1]["entry"]["flags"] == []
        and batch.json()["results"][1]["entry"]["version"] == 1
    )


async def test_a_resolved_low_is_not_reopened_when_a_meal_arrives_later(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    # 09:00 "fasting" 65 mg/dL: level 1 hypoglycemia and below the fasting range; one alert
    low = await _post(client, w, _reading("2026-03-02T09:00:00+01:00", 65, "fasting"))
    assert low["flags"] == ["hypoglycemia_level_1", "fasting_below_range"]
    [alert_id] = low["alerts"]
    assert (await client.post(f"{ALERTS}/{alert_id}/acknowledge", headers=w["clinician"])).status_code == 200
    resolved = await client.post(
        f"{ALERTS}/{alert_id}/resolve", json={"note": "Juice taken, 98 at recheck."}, headers=w["clinician"]
    )
    assert resolved.status_code == 200, resolved.text
    # breakfast at 07:00 arrives: the value is no longer a fasting one, but it is still low
    await _post(client, w, _meal("2026-03-02T07:00:00+01:00"))
    now = await _get(client, w, low["id"])
    assert now["flags"] == ["hypoglycemia_level_1", "fasting_after_meal"] and now["version"] == 2
    listed = (await client.get(ALERTS, params={"status": "open"}, headers=w["clinician"])).json()["items"]
    assert listed == []  # nothing reopened, nothing raised twice


async def test_a_review_whose_reading_is_no_longer_fasting_records_it_and_stays_open(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    # fasting 130 mg/dL (> 110) at 07:00 on 2, 3 and 4 March, no hypoglycemia: review a basal increase
    readings = [
        await _post(client, w, _reading(f"2026-03-0{day}T07:00:00+01:00", 130, "fasting"))
        for day in (2, 3, 4)
    ]
    [review] = (await client.get(ALERTS, params={"status": "open"}, headers=w["clinician"])).json()["items"]
    assert review["kind"] == "dose_review_basal_increase" and review["cause_changed"] is False
    # a late-night snack at 02:00 on 4 March is logged afterwards: the 07:00 value was not a fasting one
    await _post(client, w, _meal("2026-03-04T02:00:00+01:00"))
    assert (await _get(client, w, readings[2]["id"]))["flags"] == ["fasting_after_meal"]
    [after] = (await client.get(ALERTS, params={"status": "open"}, headers=w["clinician"])).json()["items"]
    assert after["id"] == review["id"] and after["cause_changed"] is True  # open, for the clinician to judge
    links = {link["entry_id"]: link["cause_status"] for link in after["entries"]}
    assert links[readings[2]["id"]] == "rejudged" and links[readings[0]["id"]] == "current"


async def test_a_reading_linked_to_an_earlier_meal_is_timed_from_that_meal(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    breakfast = await _post(client, w, _meal("2026-03-02T07:00:00+01:00"))
    await _post(client, w, entry_body("meal", occurred_at="2026-03-02T10:00:00+01:00", meal_type="snack"))
    # 11:30, 150 mg/dL: 270 min after the linked breakfast (outside 60-180: not judged) ...
    linked = _reading("2026-03-02T11:30:00+01:00", 150, "postprandial") | {"meal_id": breakfast["id"]}
    assert (await _post(client, w, linked))["flags"] == ["postprandial_mistimed"]
    # ... while the same value with no link is timed from the latest meal, the 10:00 snack: 90 min, above 140
    plain = _reading("2026-03-02T11:30:00+01:00", 150, "postprandial")
    assert (await _post(client, w, plain))["flags"] == ["postprandial_above_limit"]


async def test_a_week_synced_as_two_batches_ends_the_same_in_either_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # 10 days x 25 readings (fasting and postprandial at every quarter hour from 06:00) and 10 days x 3 meals,
    # as two batches: a phone that sent the meals first and one that sent the readings first
    readings, meals = [], []
    for day in range(2, 12):
        for meal_hour in (7, 12, 18):
            meals.append(_meal(f"2026-03-{day:02d}T{meal_hour:02d}:00:00+01:00"))
        for slot in range(25):
            at = f"2026-03-{day:02d}T{6 + slot // 4:02d}:{15 * (slot % 4):02d}:00+01:00"
            readings.append(_reading(at, 100 + slot * 3, "fasting" if slot % 2 else "postprandial"))
    finals = []
    for first, second in ((meals, readings), (readings, meals)):
        w = await _world(session)
        for batch in (first, second):
            items = [{**body, "id": entry_body()["id"]} for body in batch]
            answer = await client.post(
                entries_path(w["participant"], "batch"), json={"entries": items}, headers=w["phone"]
            )
            assert answer.status_code == 200, answer.text
            assert {r["status"] for r in answer.json()["results"]} == {"created"}
        listed = await client.get(
            entries_path(w["participant"]), params={"kind": "glucose", "limit": "500"}, headers=w["phone"]
        )
        finals.append(sorted((e["occurred_at"], e["context"], e["flags"]) for e in listed.json()["items"]))
    assert len(finals[0]) == 250 and finals[0] == finals[1]
    # and the meals did change judgements: readings 1-2 h after a meal are not fasting values
    assert any(flags == ["fasting_after_meal"] for _, _, flags in finals[0])


async def test_a_full_batch_of_meals_is_stored(client: httpx.AsyncClient, session: AsyncSession) -> None:
    # 1,000 meals (the batch limit) each 6 h apart after a stored reading: their windows are merged before
    # the re-judging query (SQLite refuses 1,000 OR-ed conditions; this was a 500 before)
    w = await _world(session)
    await _post(client, w, _reading("2026-01-10T12:00:00+01:00", 120, "fasting"))
    start = datetime(2026, 1, 10, 4, tzinfo=UTC)
    meals = [_meal((start + timedelta(hours=6 * i)).isoformat()) for i in range(1000)]
    answer = await client.post(
        entries_path(w["participant"], "batch"), json={"entries": meals}, headers=w["phone"]
    )
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["created"] * 1000


async def test_a_meal_bolus_review_is_raised_whichever_came_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # postprandial 150 mg/dL (>= 140) at 08:30 on 2, 3 and 4 March, 90 min after a 07:00 breakfast: the
    # bolus of that meal type is above the limit on 3 of 7 days, so a review of the breakfast bolus is due
    days = ("02", "03", "04")
    reviews = []
    for meals_first in (True, False):
        w = await _world(session)
        meals = [_meal(f"2026-03-{d}T07:00:00+01:00") for d in days]
        readings = [_reading(f"2026-03-{d}T08:30:00+01:00", 150, "postprandial") for d in days]
        stored = {}
        for body in [*meals, *readings] if meals_first else [*readings, *meals]:
            stored[body["id"]] = await _post(client, w, body)
        listed = (await client.get(ALERTS, params={"status": "open"}, headers=w["clinician"])).json()["items"]
        [review] = [a for a in listed if a["kind"].startswith("dose_review")]
        reviews.append((review["kind"], review["details"].get("meal_type")))
        if not meals_first:
            # the last reading was judged again when its breakfast came: the review names that new version
            last = await _get(client, w, readings[-1]["id"])
            links = {link["entry_id"]: link["entry_version"] for link in review["entries"]}
            assert last["version"] == 2 and links[last["id"]] == 2 and review["id"] in last["alerts"]
    assert reviews[0] == reviews[1] and reviews[0][0] == "dose_review_meal_bolus"
