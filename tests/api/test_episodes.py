"""Episodes over HTTP: who sees them, and they stay true when the diary is edited, voided or filled in late."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


def glucose(at: str, value: float, unit: str = "mg/dL") -> dict:
    return entry_body(occurred_at=at, value=value, unit=unit, context="random")


async def _setup(session: AsyncSession):  # type: ignore[no-untyped-def]
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    clinician = await f.create_staff(session, study, Role.clinician)
    return study, participant, f.auth_headers(clinician)


def episodes_path(participant) -> str:  # type: ignore[no-untyped-def]
    return f"{API}/participants/{participant.id}/episodes"


async def test_readings_and_an_event_make_one_documented_episode_then_edits_and_voids_move_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, staff = await _setup(session)
    # 07:00 62, 07:15 66 (re-check, still low), 07:40 95 (recovered): one level 1 episode 07:00-07:15;
    # symptoms reported at 07:05 attach to it -> documented symptomatic
    first, second, recovered = (
        glucose("2026-03-02T07:00:00+01:00", 62),
        glucose("2026-03-02T07:15:00+01:00", 66),
        glucose("2026-03-02T07:40:00+01:00", 95),
    )
    event = entry_body("hypo_event", occurred_at="2026-03-02T07:05:00+01:00")
    answer = await client.post(
        f"{entries_path(participant)}/batch",
        json={"entries": [first, second, recovered, event]},
        headers=staff,
    )
    assert answer.status_code == 200, answer.text
    listed = await client.get(episodes_path(participant), headers=staff)
    assert listed.status_code == 200, listed.text
    [episode] = listed.json()["items"]
    assert episode["start"] == "2026-03-02T06:00:00Z" and episode["end"] == "2026-03-02T06:15:00Z"
    assert (episode["level"], episode["category"], episode["readings"]) == (1, "documented_symptomatic", 2)
    assert (episode["nadir_value"], episode["nadir_unit"], episode["nadir_mg_dl"]) == (62, "mg/dL", 62)
    assert episode["entry_ids"] == [first["id"], second["id"]] and episode["event_ids"] == [event["id"]]

    # the 62 was a typo for 52: the edit makes it a level 2 episode with nadir 52
    edited = await client.patch(
        entries_path(participant, first["id"]),
        json={"version": 1, "reason": "meter said 52", "value": 52},
        headers=staff,
    )
    assert edited.status_code == 200, edited.text
    [episode] = (await client.get(episodes_path(participant), headers=staff)).json()["items"]
    assert (episode["level"], episode["nadir_value"]) == (2, 52)

    # the event is voided: the episode stays, now asymptomatic
    voided = await client.delete(
        entries_path(participant, event["id"]), params={"reason": "wrong day"}, headers=staff
    )
    assert voided.status_code == 200, voided.text
    [episode] = (await client.get(episodes_path(participant), headers=staff)).json()["items"]
    assert episode["category"] == "asymptomatic" and episode["event_ids"] == []

    # a reading entered late: 58 at 07:30, before the 07:40 recovery, joins; the episode now ends at 07:30
    late = glucose("2026-03-02T07:30:00+01:00", 58)
    assert (await client.post(entries_path(participant), json=late, headers=staff)).status_code == 201
    [episode] = (await client.get(episodes_path(participant), headers=staff)).json()["items"]
    assert episode["end"] == "2026-03-02T06:30:00Z" and episode["readings"] == 3


async def test_from_and_to_pick_local_start_dates_and_pages_run_oldest_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, staff = await _setup(session)
    days = ["2026-03-02", "2026-03-03", "2026-03-04"]
    batch = [glucose(f"{d}T07:00:00+01:00", 60) for d in days]
    assert (
        await client.post(f"{entries_path(participant)}/batch", json={"entries": batch}, headers=staff)
    ).is_success
    window = await client.get(
        episodes_path(participant), params={"from": "2026-03-03", "to": "2026-03-04"}, headers=staff
    )
    assert [e["entry_ids"] for e in window.json()["items"]] == [[batch[1]["id"]]]
    page = await client.get(episodes_path(participant), params={"limit": 2}, headers=staff)
    assert [e["entry_ids"][0] for e in page.json()["items"]] == [batch[0]["id"], batch[1]["id"]]
    rest = await client.get(
        episodes_path(participant), params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=staff
    )
    assert [e["entry_ids"][0] for e in rest.json()["items"]] == [batch[2]["id"]]
    assert rest.json()["next_cursor"] is None


async def test_the_participant_sees_their_episodes_without_categories_and_strangers_get_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study, participant, staff = await _setup(session)
    assert (
        await client.post(
            entries_path(participant), json=glucose("2026-03-02T07:00:00+01:00", 50), headers=staff
        )
    ).is_success
    own = await client.get(
        episodes_path(participant), headers=f.auth_headers(await f.participant_user(session, participant))
    )
    assert own.status_code == 200
    [episode] = own.json()["items"]
    assert episode["level"] == 2 and episode["category"] is None
    elsewhere = await f.create_staff(session, study, Role.clinician, site_codes=("S2",))
    assert (
        await client.get(episodes_path(participant), headers=f.auth_headers(elsewhere))
    ).status_code == 404
    assert (await client.get(episodes_path(participant))).status_code == 401


async def test_bad_periods_and_cursors_name_the_field(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, participant, staff = await _setup(session)
    empty = await client.get(
        episodes_path(participant), params={"from": "2026-03-04", "to": "2026-03-04"}, headers=staff
    )
    assert empty.status_code == 422 and empty.json()["fields"][0]["path"] == "to"
    bad = await client.get(episodes_path(participant), params={"cursor": "not-ours"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "cursor"
    date = await client.get(episodes_path(participant), params={"from": "March"}, headers=staff)
    assert date.status_code == 422


async def test_a_new_protocol_version_re_judges_the_episodes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study, participant, staff = await _setup(session)
    reading = glucose("2026-03-02T07:00:00+01:00", 71)
    assert (await client.post(entries_path(participant), json=reading, headers=staff)).is_success
    assert (await client.get(episodes_path(participant), headers=staff)).json()["items"] == []
    admin = await f.create_user(session, role=Role.admin)
    moved = await client.post(
        f"{API}/studies/{study.id}/protocol/versions",
        json={"protocol": {"glucose": {"mg_dl": {"hypo_level1": 72}}}},
        headers=f.auth_headers(admin),
    )
    assert moved.status_code in (200, 201), moved.text
    # 71 < 72: level 1 under protocol version 2
    [episode] = (await client.get(episodes_path(participant), headers=staff)).json()["items"]
    assert (episode["level"], episode["protocol_version"], episode["nadir_value"]) == (1, 2, 71)
