"""Scope on every diary route: participants, guardians and staff reach only their participants (404 otherwise)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor
from core.diary import service as diary_service
from core.models.people import Role
from tests import factories as f
from tests.factories import entry_body
from tests.urls import API


def _calls(participant_id: uuid.UUID, entry_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"{API}/participants/{participant_id}"
    entry = f"{base}/entries/{entry_id}"
    return [
        ("POST", f"{base}/entries", {"json": entry_body()}),
        ("POST", f"{base}/entries/batch", {"json": {"entries": [entry_body()]}}),
        ("GET", f"{base}/entries", {}),
        ("GET", entry, {}),
        ("PATCH", entry, {"json": {"version": 1, "reason": "r", "value": 101}}),
        ("DELETE", entry, {"params": {"reason": "r"}}),
        ("GET", f"{entry}/history", {}),
        ("GET", f"{base}/changes", {}),
    ]


async def test_every_diary_route_answers_404_outside_the_callers_scope(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    other_study = await f.create_study(session)
    mine = await f.create_participant(session, study, site_code="S1")
    at_site_2 = await f.create_participant(session, study, site_code="S2")
    elsewhere = await f.create_participant(session, other_study, site_code="S1")
    callers = {
        "participant": await f.participant_user(session, mine),
        "guardian": await f.create_guardian(session, mine),
        "clinician": await f.create_staff(session, study, Role.clinician, site_codes=("S1",)),
        "coordinator": await f.create_staff(session, study, Role.coordinator, site_codes=("S1",)),
    }
    admin = Actor.of(await f.create_user(session, role=Role.admin))
    strangers = []
    for participant in (at_site_2, elsewhere):
        entry, _ = await diary_service.record_entry(
            session=session, actor=admin, participant=participant, entry_in=entry_body()
        )
        strangers.append((participant.id, entry["id"]))
    headers_of = {role: f.auth_headers(user) for role, user in callers.items()}  # before any rollback
    for role, headers in headers_of.items():
        for participant_id, entry_id in strangers:
            for method, path, kwargs in _calls(participant_id, entry_id):
                response = await client.request(method, path, headers=headers, **kwargs)
                assert response.status_code == 404, (role, method, path, response.text)
                assert response.json()["detail"] == "No such participant."


async def test_an_entry_of_another_participant_is_not_found_under_mine(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    mine = await f.create_participant(session, study)
    other = await f.create_participant(session, study)
    headers = f.auth_headers(await f.participant_user(session, mine))
    admin = Actor.of(await f.create_user(session, role=Role.admin))
    entry, _ = await diary_service.record_entry(
        session=session, actor=admin, participant=other, entry_in=entry_body()
    )
    for method, path, kwargs in _calls(mine.id, entry["id"])[3:7]:
        response = await client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 404, (method, path, response.text)


async def test_statistician_reads_but_may_not_write(client: httpx.AsyncClient, session: AsyncSession) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    statistician = await f.create_staff(session, study, Role.statistician, site_codes=None)
    admin = Actor.of(await f.create_user(session, role=Role.admin))
    entry, _ = await diary_service.record_entry(
        session=session, actor=admin, participant=participant, entry_in=entry_body()
    )
    headers = f.auth_headers(statistician)
    for method, path, kwargs in _calls(participant.id, entry["id"]):
        response = await client.request(method, path, headers=headers, **kwargs)
        expected = 200 if method == "GET" else 403
        assert response.status_code == expected, (method, path, response.text)
