"""A dose-review alert and the entries it names point at each other, at versions that exist.

Basal review (CLINICAL.md A4, protocol defaults): fasting above 110 mg/dL on 3 consecutive local days with no
hypoglycemia in the 7 days before. Fasting readings of 130 mg/dL at 07:00 on 2, 3 and 4 March: the third
completes the pattern; the first two are its evidence. Each was version 1 when linked (it said version 0).
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def _review(client: httpx.AsyncClient, clinician: dict[str, str]) -> dict[str, Any]:
    listed = (await client.get(f"{API}/alerts", headers=clinician)).json()["items"]
    [review] = [a for a in listed if a["kind"].startswith("dose_review")]
    return review


async def _check_links_both_ways(
    client: httpx.AsyncClient, participant: Any, phone: dict[str, str], review: dict[str, Any], ids: list[str]
) -> None:
    links = {link["entry_id"]: link["entry_version"] for link in review["entries"]}
    assert set(ids) <= set(links)
    for entry_id in ids:
        entry = (await client.get(entries_path(participant, entry_id), headers=phone)).json()
        assert links[entry_id] == entry["version"] == 1, (entry_id, links)
        assert review["id"] in entry["alerts"], entry_id
        history = (await client.get(entries_path(participant, entry_id, "history"), headers=phone)).json()
        assert links[entry_id] in [v["version"] for v in history["items"]]


async def test_evidence_entries_are_linked_at_their_version_and_name_the_alert(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    phone = f.auth_headers(await f.participant_user(session, participant))
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    readings = [
        entry_body(value=130, context="fasting", occurred_at=f"2026-03-0{day}T07:00:00+01:00")
        for day in (2, 3, 4)
    ]
    feed_before = None
    for body in readings:
        response = await client.post(entries_path(participant), json=body, headers=phone)
        assert response.status_code == 201, response.text
        if body is readings[1]:
            feed_before = (
                await client.get(f"{API}/participants/{participant.id}/changes", headers=phone)
            ).json()
    review = await _review(client, clinician)
    assert review["kind"] == "dose_review_basal_increase"
    await _check_links_both_ways(client, participant, phone, review, [b["id"] for b in readings])
    # phones learn that the earlier readings now name the alert: they come again in the changes feed
    assert feed_before is not None
    later = await client.get(
        f"{API}/participants/{participant.id}/changes",
        params={"since": feed_before["cursor"]},
        headers=phone,
    )
    changed = {c["entry"]["id"]: c["entry"]["alerts"] for c in later.json()["changes"]}
    assert set(changed) == {b["id"] for b in readings}
    assert all(review["id"] in alerts for alerts in changed.values())


async def test_a_batch_links_its_own_evidence_at_version_1(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    phone = f.auth_headers(await f.participant_user(session, participant))
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    readings = [
        entry_body(value=130, context="fasting", occurred_at=f"2026-03-0{day}T07:00:00+01:00")
        for day in (2, 3, 4)
    ]
    response = await client.post(
        entries_path(participant, "batch"), json={"entries": readings}, headers=phone
    )
    assert [r["status"] for r in response.json()["results"]] == ["created"] * 3
    review = await _review(client, clinician)
    await _check_links_both_ways(client, participant, phone, review, [b["id"] for b in readings])
