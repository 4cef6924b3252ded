"""Correcting a participant's birth date re-judges their episodes: the children's level 3 rule depends on the
age at each event (CLINICAL.md A2.7), and the episode cache is keyed by the diary change position."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.models.auth import AuditEvent
from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def test_a_corrected_birth_date_changes_the_episode_level_at_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    # entered as born 2015 (10 at the event, a child); the right date is 2005 (20, an adult)
    participant = await f.create_participant(session, study, birth_date=date(2015, 4, 1))
    coordinator = f.auth_headers(await f.create_staff(session, study, Role.coordinator))
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    # symptoms and another person's help, nothing measured, no unconsciousness, seizure or glucagon
    helped = entry_body(
        "hypo_event",
        occurred_at="2026-03-02T15:00:00+01:00",
        needed_assistance=True,
        treatment=["oral_carbohydrate"],
    )
    assert (await client.post(entries_path(participant), json=helped, headers=coordinator)).status_code == 201
    episodes = f"{API}/participants/{participant.id}/episodes"
    child = (await client.get(episodes, headers=clinician)).json()["items"]
    # a child: help alone is recorded but is not level 3; symptoms without a measurement: probable, level 1
    assert [(e["level"], e["category"]) for e in child] == [(1, "probable_symptomatic")]
    changes = f"{API}/participants/{participant.id}/changes"
    feed_before = (await client.get(changes, headers=coordinator)).json()

    corrected = await client.patch(
        f"{API}/participants/{participant.id}",
        json={"birth_date": "2005-04-01", "reason": "birth year typed wrong at enrolment"},
        headers=coordinator,
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["birth_date"] == "2005-04-01"
    adult = (await client.get(episodes, headers=clinician)).json()["items"]
    # an adult who needed another person's help: severe, level 3
    assert [(e["level"], e["category"]) for e in adult] == [(3, "severe")]
    # the correction moved the change position but wrote no diary entry: the changes feed has the same entries
    feed_after = (await client.get(changes, headers=coordinator)).json()
    assert [c["entry"]["id"] for c in feed_after["changes"]] == [
        c["entry"]["id"] for c in feed_before["changes"]
    ]
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "participant.changed"))
    ).scalar_one()
    assert event.before["birth_date"] == "2015-04-01" and event.after["birth_date"] == "2005-04-01"
    assert event.after["reason"] == "birth year typed wrong at enrolment"


async def test_a_birth_date_after_enrolment_is_refused_and_clinicians_may_not_correct_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)  # enrolled 2026-01-05
    coordinator = f.auth_headers(await f.create_staff(session, study, Role.coordinator))
    url = f"{API}/participants/{participant.id}"
    late = await client.patch(url, json={"birth_date": "2026-02-01", "reason": "typo"}, headers=coordinator)
    assert late.status_code == 422
    assert late.json()["fields"] == [
        {"path": "birth_date", "message": "2026-02-01 is after the enrolment date 2026-01-05"}
    ]
    malformed = await client.patch(
        url, json={"birth_date": "1.4.2005", "reason": "typo"}, headers=coordinator
    )
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["path"] == "birth_date"
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    refused = await client.patch(url, json={"birth_date": "2005-04-01", "reason": "typo"}, headers=clinician)
    assert refused.status_code == 403
    assert (await client.get(url, headers=coordinator)).json()["birth_date"] == "2000-05-17"
