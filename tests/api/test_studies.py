"""Study set-up as an administrator and a coordinator do it: studies, protocol versions, staff, enrolment."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.models.auth import AuditEvent
from core.models.people import Role
from core.models.study import Participant, ParticipantWeight, StaffAssignment
from tests import factories
from tests.urls import API

STRONG = "Copper-Walrus-Tangerine-58"


def study_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "NEWT1D",
        "name": "New-onset T1D pilot",
        "timezone": "Europe/Ljubljana",
        "blinded": True,
        "arms": [{"code": "MSC", "name": "Stem cells"}, {"code": "CTL", "name": "Control"}],
        "sites": [
            {"code": "LJU", "name": "Ljubljana", "timezone": "Europe/Ljubljana"},
            {"code": "MB", "name": "Maribor", "timezone": "Europe/Ljubljana"},
        ],
        "protocol": {"glucose": {"mg_dl": {"hypo_level1": 72}}, "visits": {"window_days": 10}},
    }
    body.update(changes)
    return body


def enrolment_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_code": "P-001",
        "site_code": "S1",
        "arm_code": "A",
        "sex": "female",
        "birth_date": "2018-06-10",  # 7 years old on 2026-02-02
        "enrolled_at": "2026-02-02T09:00:00+01:00",
        "treatment_date": "2026-02-09",
        "timezone": "Europe/Ljubljana",
        "weight_kg": 24.0,
        "height_cm": 122.0,  # BMI 24 / 1.22^2 = 16.1
        "diagnosis_date": "2026-01-05",  # 4 weeks before enrolment
        "consent": {"given_by": "guardian", "date": "2026-02-01", "form_version": "3.1"},
    }
    body.update(changes)
    return body


async def test_admin_creates_a_study_with_protocol_overrides(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    admin = await factories.create_user(session, role=Role.admin)
    answer = await client.post(f"{API}/studies", json=study_body(), headers=factories.auth_headers(admin))
    assert answer.status_code == 201, answer.text
    study = answer.json()
    assert [a["code"] for a in study["arms"]] == ["MSC", "CTL"]
    assert [s["code"] for s in study["sites"]] == ["LJU", "MB"]
    settings = study["protocol"]["settings"]
    assert study["protocol"]["version"] == 1
    assert settings["glucose"]["mg_dl"]["hypo_level1"] == 72
    assert settings["glucose"]["mg_dl"]["hypo_level2"] == 54  # untouched defaults stay
    assert settings["visits"]["window_days"] == 10
    again = await client.post(f"{API}/studies", json=study_body(), headers=factories.auth_headers(admin))
    assert again.status_code == 409


async def test_a_bad_override_names_its_path(session: AsyncSession, client: httpx.AsyncClient) -> None:
    headers = factories.auth_headers(await factories.create_user(session, role=Role.admin))
    negative = await client.post(
        f"{API}/studies",
        json=study_body(protocol={"glucose": {"mg_dl": {"hypo_level1": -5}}}),
        headers=headers,
    )
    assert negative.status_code == 422
    assert negative.json()["fields"][0]["path"] == "protocol.glucose.mg_dl.hypo_level1"
    unknown = await client.post(
        f"{API}/studies", json=study_body(protocol={"glucose": {"hypo_levle1": 70}}), headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["fields"][0] == {
        "path": "protocol.glucose.hypo_levle1",
        "message": "unknown protocol setting",
    }
    zone = await client.post(f"{API}/studies", json=study_body(timezone="Mars/Olympus"), headers=headers)
    assert zone.status_code == 422 and zone.json()["fields"][0]["path"] == "timezone"


async def test_protocol_changes_make_new_versions_and_old_ones_stay_readable(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    admin = factories.auth_headers(await factories.create_user(session, role=Role.admin))
    clinician = factories.auth_headers(await factories.create_staff(session, study, Role.clinician))
    changed = await client.post(
        f"{API}/studies/{study.id}/protocol/versions",
        json={"protocol": {"glucose": {"postprandial_window_min": [90, 150]}}},
        headers=admin,
    )
    assert changed.status_code == 201, changed.text
    assert changed.json()["version"] == 2
    again = await client.post(
        f"{API}/studies/{study.id}/protocol/versions",
        json={"protocol": {"visits": {"window_days": 14}}},
        headers=admin,
    )
    assert again.json()["version"] == 3
    assert again.json()["settings"]["glucose"]["postprandial_window_min"] == [90, 150]  # builds on v2
    first = await client.get(f"{API}/studies/{study.id}/protocol/versions/1", headers=clinician)
    assert first.json()["settings"]["glucose"]["postprandial_window_min"] == [60, 150]
    view = await client.get(f"{API}/studies/{study.id}", headers=clinician)
    assert view.json()["protocol"]["version"] == 3
    missing = await client.get(f"{API}/studies/{study.id}/protocol/versions/9", headers=clinician)
    assert missing.status_code == 404
    bad = await client.post(
        f"{API}/studies/{study.id}/protocol/versions",
        json={"protocol": {"visits": {"window_days": 99}}},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "protocol.visits.window_days"
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert actions.count("study.protocol_changed") == 2


async def test_admin_adds_staff_who_can_sign_in_and_see_their_study(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    other = await factories.create_study(session)
    admin = factories.auth_headers(await factories.create_user(session, role=Role.admin))
    made = await client.post(
        f"{API}/studies/{study.id}/staff",
        json={
            "email": "Dr.Novak@Hospital.example",
            "password": STRONG,
            "role": "clinician",
            "site_codes": ["S2"],
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "dr.novak@hospital.example"
    token = await client.post(
        f"{API}/auth/token", data={"username": "dr.novak@hospital.example", "password": STRONG}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await client.get(f"{API}/studies/{study.id}", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/studies/{other.id}", headers=headers)).status_code == 404
    unknown_site = await client.post(
        f"{API}/studies/{study.id}/staff",
        json={"email": "x@hospital.example", "password": STRONG, "role": "clinician", "site_codes": ["ZZ"]},
        headers=admin,
    )
    assert unknown_site.status_code == 422 and unknown_site.json()["fields"][0]["path"] == "site_codes"


async def test_coordinator_enrols_an_eligible_child_with_consent_and_weight(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    coordinator = await factories.create_staff(session, study, Role.coordinator)
    answer = await client.post(
        f"{API}/studies/{study.id}/participants",
        json=enrolment_body(),
        headers=factories.auth_headers(coordinator),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["subject_code"] == "P-001" and body["site_code"] == "S1" and body["status"] == "enrolled"
    assert "arm_code" not in body  # blinded study, coordinator
    participant = await session.get(Participant, uuid.UUID(body["id"]))
    assert participant is not None
    assert (participant.consent_given_by, participant.consent_form_version) == ("guardian", "3.1")
    weights = (
        (
            await session.execute(
                select(ParticipantWeight).where(ParticipantWeight.participant_id == participant.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(w.kg, w.source) for w in weights] == [(24.0, "enrolment")]

    twice = await client.post(
        f"{API}/studies/{study.id}/participants",
        json=enrolment_body(),
        headers=factories.auth_headers(coordinator),
    )
    assert twice.status_code == 409


async def test_each_failed_criterion_is_named_and_an_override_needs_a_reason(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    headers = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    url = f"{API}/studies/{study.id}/participants"

    too_young = await client.post(
        url, json=enrolment_body(birth_date="2023-09-01"), headers=headers
    )  # 2 years
    assert too_young.status_code == 422
    assert too_young.json()["fields"] == [
        {"path": "birth_date", "message": "age: age at enrolment 2 years; the protocol allows 3-35"}
    ]
    # 2025-11-24 to 2026-02-02 is 70 days = 10.0 weeks, above the 9 allowed
    late = await client.post(url, json=enrolment_body(diagnosis_date="2025-11-24"), headers=headers)
    assert late.status_code == 422 and "weeks_since_diagnosis" in late.json()["detail"]
    # 24 kg at 85 cm: BMI 24 / 0.85^2 = 33.2, above 30
    heavy = await client.post(url, json=enrolment_body(height_cm=85), headers=headers)
    assert heavy.status_code == 422 and "BMI 33.2" in heavy.json()["fields"][0]["message"]

    no_reason = await client.post(
        url,
        json=enrolment_body(height_cm=85, eligibility_override={"criterion": "bmi", "reason": ""}),
        headers=headers,
    )
    assert no_reason.status_code == 422
    wrong_one = await client.post(
        url,
        json=enrolment_body(height_cm=85, eligibility_override={"criterion": "age", "reason": "PI approval"}),
        headers=headers,
    )
    assert wrong_one.status_code == 422
    overridden = await client.post(
        url,
        json=enrolment_body(
            height_cm=85,
            eligibility_override={"criterion": "bmi", "reason": "height measured lying; PI approved"},
        ),
        headers=headers,
    )
    assert overridden.status_code == 201, overridden.text
    participant = await session.get(Participant, uuid.UUID(overridden.json()["id"]))
    assert participant is not None and participant.eligibility_override is not None
    assert participant.eligibility_override["reason"] == "height measured lying; PI approved"


async def test_coordinator_enrols_only_at_own_sites(session: AsyncSession, client: httpx.AsyncClient) -> None:
    study = await factories.create_study(session)
    headers = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    elsewhere = await client.post(
        f"{API}/studies/{study.id}/participants", json=enrolment_body(site_code="S2"), headers=headers
    )
    assert elsewhere.status_code == 403
    other_study = await factories.create_study(session)
    foreign = await client.post(
        f"{API}/studies/{other_study.id}/participants", json=enrolment_body(), headers=headers
    )
    assert foreign.status_code == 404


async def test_participant_list_pages_through_the_scope(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    for n in range(5):
        await factories.create_participant(session, study, subject_code=f"L-{n}", site_code="S1")
    await factories.create_participant(session, study, subject_code="L-9", site_code="S2")
    headers = factories.auth_headers(await factories.create_staff(session, study, Role.clinician))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"{API}/studies/{study.id}/participants", params=params, headers=headers)
        ).json()
        seen += [p["subject_code"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["L-0", "L-1", "L-2", "L-3", "L-4"]  # L-9 is at the other site
    bad = await client.get(f"{API}/studies/{study.id}/participants", params={"cursor": "@@"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "cursor"


async def test_participant_list_counts_unresolved_alerts(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    from tests.core.rules.diary_rows import create_alert

    study = await factories.create_study(session)
    busy = await factories.create_participant(session, study, subject_code="A-1")
    await factories.create_participant(session, study, subject_code="A-2")
    await create_alert(session, busy)
    await create_alert(session, busy, status="acknowledged", fold_key="other")
    await create_alert(session, busy, status="resolved", fold_key="done")
    headers = factories.auth_headers(await factories.create_staff(session, study, Role.clinician))
    page = (await client.get(f"{API}/studies/{study.id}/participants", headers=headers)).json()
    assert {p["subject_code"]: p["open_alert_count"] for p in page["items"]} == {"A-1": 2, "A-2": 0}


async def test_staff_find_their_studies_and_me_names_them(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # before: GET /studies was a 405 and /me named no study, so a new coordinator could not find theirs
    first = await factories.create_study(session, code="BETA", name="Beta trial")
    second = await factories.create_study(session, code="ALPHA", name="Alpha trial")
    elsewhere = await factories.create_study(session, code="GAMMA")
    nurse = await factories.create_staff(session, first, Role.coordinator, site_codes=("S1", "S2"))
    session.add(StaffAssignment(user_id=nurse.id, study_id=second.id, site_id=None, role=Role.coordinator))
    admin = await factories.create_user(session, role=Role.admin)
    teen = await factories.create_participant(session, elsewhere, subject_code="T-9")
    await session.flush()

    listed = await client.get(f"{API}/studies", headers=factories.auth_headers(nurse))
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [
            {
                "id": str(second.id),
                "code": "ALPHA",
                "name": "Alpha trial",
                "blinded": second.blinded,
                "role": "coordinator",
                "site_codes": [],
            },
            {
                "id": str(first.id),
                "code": "BETA",
                "name": "Beta trial",
                "blinded": first.blinded,
                "role": "coordinator",
                "site_codes": ["S1", "S2"],
            },
        ],
        "next_cursor": None,
    }
    paged = (
        await client.get(f"{API}/studies", params={"limit": 1}, headers=factories.auth_headers(nurse))
    ).json()
    assert [s["code"] for s in paged["items"]] == ["ALPHA"] and paged["next_cursor"]
    rest = await client.get(
        f"{API}/studies", params={"cursor": paged["next_cursor"]}, headers=factories.auth_headers(nurse)
    )
    assert [s["code"] for s in rest.json()["items"]] == ["BETA"]

    me = (await client.get(f"{API}/me", headers=factories.auth_headers(nurse))).json()
    assert [(s["code"], s["role"], s["site_codes"]) for s in me["studies"]] == [
        ("ALPHA", "coordinator", []),
        ("BETA", "coordinator", ["S1", "S2"]),
    ]
    everything = (await client.get(f"{API}/studies", headers=factories.auth_headers(admin))).json()
    assert {"ALPHA", "BETA", "GAMMA"} <= {s["code"] for s in everything["items"]}
    phone = factories.auth_headers(await factories.participant_user(session, teen))
    assert (await client.get(f"{API}/studies", headers=phone)).status_code == 403
    own = (await client.get(f"{API}/me", headers=phone)).json()
    assert [(s["code"], s["role"]) for s in own["studies"]] == [("GAMMA", "participant")]
