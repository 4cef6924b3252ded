"""The FHIR export: the Bundle and every resource in it validate with fhir.resources (R4B models: R4's
successor, same shapes for Bundle, Patient, Observation and MedicationAdministration; see the README), codes and
units as CLINICAL.md section 5 fixes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from core.visits import service as visit_service
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API

MODELS = {
    "Patient": Patient,
    "Observation": Observation,
    "MedicationAdministration": MedicationAdministration,
}


def validated(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Bundle validated whole and resource by resource with its own model; the resources by id."""
    Bundle.model_validate(document)
    assert document["resourceType"] == "Bundle" and document["type"] == "collection"
    by_id = {}
    for entry in document["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)  # raises on anything R4B does not allow
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        by_id[resource["id"]] = resource
    assert len(by_id) == len(document["entry"])  # ids are unique in the Bundle
    return by_id


async def test_bundle_of_glucose_insulin_and_episodes_validates(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    fasting = entry_body(occurred_at="2026-03-02T07:30:00+01:00", value=5.2, unit="mmol/L", context="fasting")
    low = entry_body(occurred_at="2026-03-02T11:00:00+01:00", value=52, unit="mg/dL", context="random")
    dose = entry_body(
        "insulin", occurred_at="2026-03-02T07:40:00+01:00", units=6, insulin_type="rapid", purpose="meal"
    )
    voided = entry_body(occurred_at="2026-03-02T12:00:00+01:00", value=300, unit="mg/dL", context="random")
    batch = await client.post(
        f"{entries_path(participant)}/batch",
        json={"entries": [fasting, low, dose, voided]},
        headers=clinician,
    )
    assert batch.status_code == 200
    gone = await client.delete(
        entries_path(participant, voided["id"]), params={"reason": "wrong meter"}, headers=clinician
    )
    assert gone.status_code == 200
    answer = await client.get(f"{API}/participants/{participant.id}/export/fhir", headers=clinician)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/fhir+json"
    by_id = validated(answer.json())
    assert voided["id"] not in by_id  # voided entries are not exported
    patient = by_id[str(participant.id)]
    assert patient["identifier"][0]["value"] == participant.subject_code
    mmol = by_id[fasting["id"]]
    assert mmol["code"]["coding"][0]["code"] == "14743-9"  # moles/volume: mmol/L as entered
    assert mmol["valueQuantity"] == {
        "value": 5.2,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    }
    assert mmol["effectiveDateTime"] == "2026-03-02T07:30:00+01:00"  # measurement time in its own offset
    assert mmol["component"][0]["valueCodeableConcept"]["text"] == "fasting"
    assert by_id[low["id"]]["code"]["coding"][0]["code"] == "41653-7"
    insulin = by_id[dose["id"]]
    assert insulin["resourceType"] == "MedicationAdministration"
    assert insulin["dosage"]["dose"] == {
        "value": 6.0,
        "unit": "IU",
        "system": "http://unitsofmeasure.org",
        "code": "[IU]",
    }
    [episode] = [
        r for r in by_id.values() if r.get("code", {}).get("coding", [{}])[0].get("code") == "302866003"
    ]
    assert episode["valueQuantity"]["value"] == 52 and episode["component"][0]["valueInteger"] == 2
    assert episode["derivedFrom"] == [{"reference": f"Observation/{low['id']}"}]


async def test_only_staff_in_scope_export(client: httpx.AsyncClient, session: AsyncSession) -> None:
    study = await f.create_study(session)
    participant = await f.create_participant(session, study)
    path = f"{API}/participants/{participant.id}/export/fhir"
    own = f.auth_headers(await f.participant_user(session, participant))
    assert (await client.get(path, headers=own)).status_code == 403
    elsewhere = f.auth_headers(await f.create_staff(session, study, Role.clinician, site_codes=("S2",)))
    assert (await client.get(path, headers=elsewhere)).status_code == 404
    assert (await client.get(path)).status_code == 401


def code_of(resource: dict[str, Any]) -> str:
    return str(resource.get("code", {}).get("coding", [{}])[0].get("code"))


async def test_visit_labs_and_episode_levels_are_coded_observations(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.set_now(datetime(2026, 4, 20, 10, 0, tzinfo=UTC))
    study = await f.create_study(session)
    participant = await f.create_participant(session, study, treatment_date=date(2026, 1, 12))
    coordinator = f.auth_headers(await f.create_staff(session, study, Role.coordinator))
    await visit_service.plan_participant(session=session, participant=participant, actor=None, reason="t")
    visits = {
        v.month: v for v in await visit_service.visits_of(session=session, participant_id=participant.id)
    }
    m1 = {
        "completed_on": "2026-02-13",
        "hba1c_percent": 7.0,
        "c_peptide_fasting_ng_ml": 0.9,
        "c_peptide_stimulated_ng_ml": 2.1,
        "glucose_fasting_mg_dl": 100,
    }
    for month, body in ((1, m1), (2, {"completed_on": "2026-03-12", "hba1c_percent": 6.5})):
        done = await client.post(f"{API}/visits/{visits[month].id}/complete", json=body, headers=coordinator)
        assert done.status_code == 200, done.text
    # M3 stays planned: nothing of it is exported. A severe event (an adult helped by another person) and a
    # 50 mg/dL reading: a level 3 and a level 2 episode
    severe = entry_body(
        "hypo_event", occurred_at="2026-03-20T15:00:00+01:00", needed_assistance=True, treatment=["glucagon"]
    )
    low = entry_body(occurred_at="2026-03-25T07:00:00+01:00", value=50, unit="mg/dL", context="random")
    batch = await client.post(
        f"{entries_path(participant)}/batch", json={"entries": [severe, low]}, headers=coordinator
    )
    assert batch.status_code == 200, batch.text

    answer = await client.get(f"{API}/participants/{participant.id}/export/fhir", headers=coordinator)
    assert answer.status_code == 200, answer.text
    by_id = validated(answer.json())
    labs = [
        r
        for r in by_id.values()
        if r.get("category", [{}])[0].get("coding", [{}])[0].get("code") == "laboratory"
    ]
    lab_values = [
        (
            code_of(r),
            r["code"]["text"],
            r["valueQuantity"]["value"],
            r["valueQuantity"]["code"],
            r["effectiveDateTime"],
        )
        for r in labs
        if code_of(r) not in ("41653-7", "14743-9", "41604-0")
    ]
    # HbA1c IFCC = 10.93 x 7.0 - 23.5 = 53.01 -> 53.0 mmol/mol; 10.93 x 6.5 - 23.5 = 47.545 -> 47.5
    assert lab_values == [
        ("4548-4", "HbA1c (NGSP)", 7.0, "%", "2026-02-13"),
        ("59261-8", "HbA1c (IFCC)", 53.0, "mmol/mol", "2026-02-13"),
        ("1986-9", "C-peptide, fasting", 0.9, "ng/mL", "2026-02-13"),
        ("1986-9", "C-peptide, stimulated (mixed-meal tolerance test)", 2.1, "ng/mL", "2026-02-13"),
        ("4548-4", "HbA1c (NGSP)", 6.5, "%", "2026-03-12"),
        ("59261-8", "HbA1c (IFCC)", 47.5, "mmol/mol", "2026-03-12"),
    ]
    ifcc = next(r for r in labs if code_of(r) == "59261-8")
    ngsp = next(r for r in labs if code_of(r) == "4548-4")
    assert ifcc["derivedFrom"] == [{"reference": f"Observation/{ngsp['id']}"}]
    assert all(r["valueQuantity"]["system"] == "http://unitsofmeasure.org" for r in labs)
    assert all(r["subject"] == {"reference": f"Patient/{participant.id}"} for r in labs)
    episodes = [r for r in by_id.values() if code_of(r) == "302866003"]
    levels = [
        (
            r["effectivePeriod"]["start"],
            r["component"][0]["valueInteger"],
            r["component"][1]["valueCodeableConcept"]["text"],
        )
        for r in episodes
    ]
    assert levels == [
        ("2026-03-20T14:00:00+00:00", 3, "severe"),
        ("2026-03-25T06:00:00+00:00", 2, "asymptomatic"),
    ]
    assert "valueQuantity" not in episodes[0]  # nothing measured: no nadir
    assert episodes[1]["valueQuantity"]["value"] == 50


async def test_an_invalid_resource_fails_validation() -> None:
    """The validation the tests rely on refuses what R4B does not allow: an unknown element, a missing required
    one, a wrong type, a malformed date, also inside a Bundle (it checks structure and types; it does not check
    that a code is one of its value set's, e.g. `status`)."""
    import pydantic
    import pytest

    base = {"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "t"}}
    for bad in (
        {**base, "level": 3},
        {k: v for k, v in base.items() if k != "status"},
        {**base, "valueQuantity": {"value": "seven"}},
        {**base, "effectiveDateTime": "13.2.2026"},
    ):
        with pytest.raises(pydantic.ValidationError):
            Observation.model_validate(bad)
    with pytest.raises(pydantic.ValidationError):
        Bundle.model_validate(
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {**base, "level": 3}}]}
        )
