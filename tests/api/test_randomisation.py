"""Allocation at enrolment: a randomised study needs an arm, and a randomisation list uploaded by the unblinded
statistician assigns it without blinded staff ever seeing it (in any answer or error)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.models.auth import AuditEvent
from core.models.people import Role
from core.protocol import DEFAULT_PROTOCOL, with_overrides
from tests import factories
from tests.api.test_studies import enrolment_body
from tests.urls import API

ARM_KEYS = {"arm", "arm_id", "arm_code", "arms"}
BY_LIST = with_overrides(DEFAULT_PROTOCOL, {"allocation": {"method": "list"}})


def arm_keys(document: Any) -> set[str]:
    if isinstance(document, dict):
        return (ARM_KEYS & set(document)).union(*(arm_keys(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(arm_keys(v) for v in document))
    return set()


def blinded_answer(answer: httpx.Response) -> None:
    """Nothing in the answer names an arm: no arm key, no arm code (A, B) and no arm name in any text."""
    assert arm_keys(answer.json()) == set(), answer.text
    assert "Arm A" not in answer.text and "Arm B" not in answer.text


async def list_world(session: AsyncSession) -> dict[str, Any]:
    study = await factories.create_study(session, blinded=True, protocol=BY_LIST)
    return {
        "study": study,
        "path": f"{API}/studies/{study.id}",
        "coordinator": factories.auth_headers(
            await factories.create_staff(session, study, Role.coordinator, site_codes=None)
        ),
        "statistician": factories.auth_headers(
            await factories.create_staff(session, study, Role.statistician, site_codes=None)
        ),
    }


def slots(*arms: str, site: str = "S1", stratum: str = "") -> list[dict[str, Any]]:
    return [
        {"site_code": site, "stratum": stratum, "sequence": n, "arm_code": arm}
        for n, arm in enumerate(arms, 1)
    ]


async def test_a_randomised_study_refuses_an_enrolment_without_an_arm(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # before: a blinded, randomised study enrolled a participant with no arm at all
    study = await factories.create_study(session, blinded=True)
    coordinator = await factories.create_staff(session, study, Role.coordinator)
    body = {k: v for k, v in enrolment_body().items() if k != "arm_code"}
    answer = await client.post(
        f"{API}/studies/{study.id}/participants", json=body, headers=factories.auth_headers(coordinator)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0]["path"] == "arm_code"
    assert "allocation.method" in answer.json()["detail"]
    blinded_answer(answer)


async def test_the_list_assigns_arms_in_sequence_and_blinded_staff_never_see_them(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await list_world(session)
    refused = await client.post(
        f"{w['path']}/randomisation", json={"slots": slots("B", "A")}, headers=w["coordinator"]
    )
    assert refused.status_code == 403  # a blinded coordinator may not even upload
    uploaded = await client.post(
        f"{w['path']}/randomisation", json={"slots": slots("B", "A", "B")}, headers=w["statistician"]
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json() == {"counts": [{"site_code": "S1", "stratum": "", "slots": 3, "free": 3}]}

    for n in (1, 2):
        enrolled = await client.post(
            f"{w['path']}/participants",
            json={k: v for k, v in enrolment_body(subject_code=f"L-{n}").items() if k != "arm_code"},
            headers=w["coordinator"],
        )
        assert enrolled.status_code == 201, enrolled.text
        blinded_answer(enrolled)
    named = await client.post(
        f"{w['path']}/participants", json=enrolment_body(subject_code="L-9"), headers=w["coordinator"]
    )
    assert named.status_code == 422 and named.json()["fields"][0]["path"] == "arm_code"
    blinded_answer(named)

    listing = await client.get(f"{w['path']}/participants", headers=w["coordinator"])
    blinded_answer(listing)
    unblinded = (await client.get(f"{w['path']}/participants", headers=w["statistician"])).json()
    assert {p["subject_code"]: p["arm_code"] for p in unblinded["items"]} == {"L-1": "B", "L-2": "A"}

    # the audit trail proves which list was uploaded without naming its arms
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "randomisation.uploaded"))
    ).scalar_one()
    assert event.after is not None and event.after["slots"] == 3 and len(event.after["sha256"]) == 64
    assert '"A"' not in str(event.after) and "'B'" not in str(event.after)


async def test_an_exhausted_list_or_a_site_without_slots_is_a_409_naming_no_arm(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await list_world(session)
    await client.post(f"{w['path']}/randomisation", json={"slots": slots("A")}, headers=w["statistician"])
    body = {k: v for k, v in enrolment_body().items() if k != "arm_code"}
    first = await client.post(f"{w['path']}/participants", json=body, headers=w["coordinator"])
    assert first.status_code == 201
    full = await client.post(
        f"{w['path']}/participants", json={**body, "subject_code": "P-002"}, headers=w["coordinator"]
    )
    assert full.status_code == 409 and "no free slot" in full.json()["detail"]
    blinded_answer(full)
    elsewhere = await client.post(
        f"{w['path']}/participants",
        json={**body, "subject_code": "P-003", "site_code": "S2"},
        headers=w["coordinator"],
    )
    assert elsewhere.status_code == 409 and "no slots for site S2" in elsewhere.json()["detail"]


async def test_strata_pick_their_own_sequence(session: AsyncSession, client: httpx.AsyncClient) -> None:
    w = await list_world(session)
    both = slots("A", "A", stratum="under-12") + slots("B", "B", stratum="12-and-over")
    assert (
        await client.post(f"{w['path']}/randomisation", json={"slots": both}, headers=w["statistician"])
    ).status_code == 201
    body = {k: v for k, v in enrolment_body().items() if k != "arm_code"}
    unnamed = await client.post(f"{w['path']}/participants", json=body, headers=w["coordinator"])
    assert unnamed.status_code == 422 and unnamed.json()["fields"][0]["path"] == "stratum"
    assert "'12-and-over', 'under-12'" in unnamed.json()["fields"][0]["message"]
    teen = await client.post(
        f"{w['path']}/participants", json={**body, "stratum": "12-and-over"}, headers=w["coordinator"]
    )
    assert teen.status_code == 201, teen.text
    blinded_answer(teen)
    seen = await client.get(f"{API}/participants/{teen.json()['id']}", headers=w["statistician"])
    assert seen.json()["arm_code"] == "B"


async def test_a_bad_list_is_refused_whole(session: AsyncSession, client: httpx.AsyncClient) -> None:
    w = await list_world(session)
    path = f"{w['path']}/randomisation"
    unknown_arm = await client.post(path, json={"slots": slots("A", "Z")}, headers=w["statistician"])
    assert unknown_arm.status_code == 422 and unknown_arm.json()["fields"][0]["path"] == "slots.1.arm_code"
    unknown_site = await client.post(path, json={"slots": slots("A", site="S9")}, headers=w["statistician"])
    assert unknown_site.status_code == 422 and unknown_site.json()["fields"][0]["path"] == "slots.0.site_code"
    twice = slots("A") + slots("B")
    repeated = await client.post(path, json={"slots": twice}, headers=w["statistician"])
    assert repeated.status_code == 422 and repeated.json()["fields"][0]["path"] == "slots.1.sequence"
    assert (await client.post(path, json={"slots": slots("A")}, headers=w["statistician"])).status_code == 201
    again = await client.post(path, json={"slots": slots("B")}, headers=w["statistician"])
    assert again.status_code == 409 and again.json()["fields"][0]["path"] == "slots.0.sequence"


async def test_concurrent_enrolments_take_distinct_slots(committing_client: httpx.AsyncClient) -> None:
    from core.db import session_scope

    async with session_scope() as session:
        w = await list_world(session)
    assert (
        await committing_client.post(
            f"{w['path']}/randomisation", json={"slots": slots("A", "B", "A", "B")}, headers=w["statistician"]
        )
    ).status_code == 201
    body = {k: v for k, v in enrolment_body().items() if k != "arm_code"}
    answers = await asyncio.gather(
        *(
            committing_client.post(
                f"{w['path']}/participants", json={**body, "subject_code": f"C-{n}"}, headers=w["coordinator"]
            )
            for n in range(4)
        )
    )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    listing = (await committing_client.get(f"{w['path']}/participants", headers=w["statistician"])).json()
    assert sorted(p["arm_code"] for p in listing["items"]) == ["A", "A", "B", "B"]
