"""Who sees whom: a guardian only their own child, a clinician only their sites, arms only for unblinded roles."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories
from tests.urls import API


def weight_entry() -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "kind": "weight", "occurred_at": "2026-02-10T08:00:00+01:00", "kg": 24.5}


def arm_keys(document: Any) -> set[str]:
    keys = {"arm", "arm_id", "arm_code", "arms"}
    if isinstance(document, dict):
        found = keys & document.keys()
        for value in document.values():
            found |= arm_keys(value)
        return found
    if isinstance(document, list):
        return set().union(*(arm_keys(v) for v in document)) if document else set()
    return set()


async def test_guardian_of_child_a_can_neither_read_nor_write_child_b(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    child_a = await factories.create_participant(session, study, with_login=False)
    child_b = await factories.create_participant(session, study, with_login=False)  # same site, same study
    await factories.create_guardian(session, child_b)
    guardian_a = factories.auth_headers(await factories.create_guardian(session, child_a))

    own = await client.post(
        f"{API}/participants/{child_a.id}/entries", json=weight_entry(), headers=guardian_a
    )
    assert own.status_code == 201, own.text
    assert (await client.get(f"{API}/participants/{child_a.id}", headers=guardian_a)).status_code == 200

    for answer in (
        await client.get(f"{API}/participants/{child_b.id}", headers=guardian_a),
        await client.get(f"{API}/participants/{child_b.id}/entries", headers=guardian_a),
        await client.post(
            f"{API}/participants/{child_b.id}/entries", json=weight_entry(), headers=guardian_a
        ),
        await client.get(f"{API}/participants/{uuid.uuid4()}", headers=guardian_a),
    ):
        # out of scope answers exactly like a participant that does not exist
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"error": "not_found", "detail": "No such participant."}


async def test_an_unlinked_guardian_link_stops_access(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    from sqlmodel import select

    from core.models.study import GuardianLink

    study = await factories.create_study(session)
    child = await factories.create_participant(session, study, with_login=False)
    guardian = await factories.create_guardian(session, child)
    link = (await session.execute(select(GuardianLink))).scalar_one()
    link.active = False
    await session.flush()
    answer = await client.get(f"{API}/participants/{child.id}", headers=factories.auth_headers(guardian))
    assert answer.status_code == 404


async def test_clinician_of_site_one_cannot_see_site_two(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    here = await factories.create_participant(session, study, site_code="S1", subject_code="S1-01")
    there = await factories.create_participant(session, study, site_code="S2", subject_code="S2-01")
    clinician = factories.auth_headers(await factories.create_staff(session, study, Role.clinician))

    listing = await client.get(f"{API}/studies/{study.id}/participants", headers=clinician)
    assert [p["subject_code"] for p in listing.json()["items"]] == ["S1-01"]
    assert (await client.get(f"{API}/participants/{here.id}", headers=clinician)).status_code == 200
    assert (await client.get(f"{API}/participants/{there.id}", headers=clinician)).status_code == 404
    assert (await client.get(f"{API}/participants/{there.id}/entries", headers=clinician)).status_code == 404
    # statistician: the whole study
    statistician = factories.auth_headers(
        await factories.create_staff(session, study, Role.statistician, site_codes=None)
    )
    everyone = await client.get(f"{API}/studies/{study.id}/participants", headers=statistician)
    assert [p["subject_code"] for p in everyone.json()["items"]] == ["S1-01", "S2-01"]


async def test_coordinator_of_a_blinded_study_never_sees_an_arm(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session, blinded=True)
    participant = await factories.create_participant(session, study, arm_code="B")
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    statistician = factories.auth_headers(
        await factories.create_staff(session, study, Role.statistician, site_codes=None)
    )
    enrolment = {
        "subject_code": "NEW-1",
        "site_code": "S1",
        "arm_code": "A",
        "sex": "male",
        "birth_date": "2010-01-01",
        "enrolled_at": "2026-02-02T09:00:00Z",
        "treatment_date": "2026-02-09",
        "timezone": "Europe/Ljubljana",
        "weight_kg": 55,
        "height_cm": 168,
        "diagnosis_date": "2026-01-20",
    }
    answers = [
        await client.post(f"{API}/studies/{study.id}/participants", json=enrolment, headers=coordinator),
        await client.get(f"{API}/studies/{study.id}", headers=coordinator),
        await client.get(f"{API}/studies/{study.id}/participants", headers=coordinator),
        await client.get(f"{API}/participants/{participant.id}", headers=coordinator),
        await client.get(f"{API}/me", headers=coordinator),
    ]
    for answer in answers:
        assert answer.is_success, answer.text
        assert arm_keys(answer.json()) == set(), f"{answer.request.url} shows {answer.json()}"
    # a bad arm code must not list the real ones either
    wrong = await client.post(
        f"{API}/studies/{study.id}/participants",
        json={**enrolment, "subject_code": "NEW-2", "arm_code": "Z"},
        headers=coordinator,
    )
    assert wrong.status_code == 422 and "'A'" not in wrong.text and "'B'" not in wrong.text

    # the statistician is unblinded
    stat_view = (await client.get(f"{API}/participants/{participant.id}", headers=statistician)).json()
    assert stat_view["arm_code"] == "B"
    stat_study = (await client.get(f"{API}/studies/{study.id}", headers=statistician)).json()
    assert [a["code"] for a in stat_study["arms"]] == ["A", "B"]
    listing = (await client.get(f"{API}/studies/{study.id}/participants", headers=statistician)).json()
    assert {p["subject_code"]: p["arm_code"] for p in listing["items"]} == {
        participant.subject_code: "B",
        "NEW-1": "A",
    }


async def test_an_open_label_study_shows_arms_to_its_staff(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session, blinded=False)
    participant = await factories.create_participant(session, study, arm_code="A")
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    assert (await client.get(f"{API}/participants/{participant.id}", headers=coordinator)).json()[
        "arm_code"
    ] == "A"
    # participants themselves are not staff: no allocation even when open label
    own = factories.auth_headers(await factories.participant_user(session, participant))
    assert "arm_code" not in (await client.get(f"{API}/participants/{participant.id}", headers=own)).json()
