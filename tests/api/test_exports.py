"""The FHIR export: every resource validates with fhir.resources (R4B models: R4's successor, same shapes for
Bundle, Observation and MedicationAdministration), codes and units as CLINICAL.md section 5 fixes them."""

from __future__ import annotations

import httpx
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body


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
    answer = await client.get(f"/api/v1/participants/{participant.id}/export/fhir", headers=clinician)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/fhir+json"
    document = answer.json()
    Bundle.model_validate(document)  # raises on any invalid resource
    assert document["type"] == "collection"
    by_id = {e["resource"]["id"]: e["resource"] for e in document["entry"]}
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
    path = f"/api/v1/participants/{participant.id}/export/fhir"
    own = f.auth_headers(await f.participant_user(session, participant))
    assert (await client.get(path, headers=own)).status_code == 403
    elsewhere = f.auth_headers(await f.create_staff(session, study, Role.clinician, site_codes=("S2",)))
    assert (await client.get(path, headers=elsewhere)).status_code == 404
    assert (await client.get(path)).status_code == 401
