"""A participant's diary as a FHIR R4 Bundle (type collection), coded as CLINICAL.md section 5 says.

- Glucose: Observation, LOINC 41653-7 (capillary, glucometer, mass: mg/dL) or 14743-9 (moles: mmol/L), 41604-0
  for a fasting mg/dL reading; the value in the unit entered (UCUM); `effectiveDateTime` = measurement time in
  the offset it was entered with; the measurement context as a component (no LOINC for it: text).
- Insulin: MedicationAdministration per dose, dose in UCUM `[IU]`, route subcutaneous (SNOMED 263887005).
- Hypoglycemia episodes: Observation coded SNOMED 302866003 (Hypoglycemia) over the episode's period, nadir as
  the value, level and ADA category as components.
- The Patient carries the subject code only (no names: the service holds none).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.episodes import store as episodes
from core.models.diary import DiaryEntry, GlucoseReading
from core.models.study import Participant

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
GLUCOSE_CODES = {
    ("mg/dL", True): ("41604-0", "Fasting glucose [Mass/volume] in Capillary blood by Glucometer"),
    ("mg/dL", False): ("41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer"),
    ("mmol/L", True): ("14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"),
    ("mmol/L", False): ("14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"),
}


def _at(moment: datetime, offset_minutes: int) -> str:
    return moment.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat()


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def glucose_observation(patient: str, reading: Any, offset: int) -> dict[str, Any]:
    code, display = GLUCOSE_CODES[(reading.unit, reading.context == "fasting")]
    return {
        "resourceType": "Observation",
        "id": str(reading.entry_id),
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {
            "coding": [{"system": LOINC, "code": code, "display": display}],
            "text": "Capillary glucose",
        },
        "subject": {"reference": patient},
        "effectiveDateTime": _at(reading.occurred_at, offset),
        "valueQuantity": {"value": reading.value, "unit": reading.unit, "system": UCUM, "code": reading.unit},
        "component": [
            {"code": {"text": "Glucose meal context"}, "valueCodeableConcept": {"text": reading.context}}
        ],
    }


def insulin_administration(patient: str, entry: Any) -> dict[str, Any]:
    data = entry.data
    product = data.get("product") or f"{data.get('insulin_type', '')} insulin".strip()
    return {
        "resourceType": "MedicationAdministration",
        "id": str(entry.id),
        "status": "completed",
        "medicationCodeableConcept": {"text": product},
        "subject": {"reference": patient},
        "effectiveDateTime": _at(entry.occurred_at, entry.utc_offset_minutes),
        "dosage": {
            "text": f"{data.get('purpose', '')} dose".strip(),
            "route": {"coding": [{"system": SNOMED, "code": "263887005", "display": "Subcutaneous"}]},
            "dose": {"value": float(data["units"]), "unit": "IU", "system": UCUM, "code": "[IU]"},
        },
    }


def episode_observation(patient: str, episode: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{patient}/episode/{episode.start_at.isoformat()}")),
        "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "302866003", "display": "Hypoglycemia"}]},
        "subject": {"reference": patient},
        "effectivePeriod": {"start": episode.start_at.isoformat(), "end": episode.end_at.isoformat()},
        "component": [
            {"code": {"text": "Hypoglycemia level"}, "valueInteger": episode.level},
            {"code": {"text": "ADA 2005 category"}, "valueCodeableConcept": {"text": episode.category}},
        ],
        "derivedFrom": [{"reference": f"Observation/{i}"} for i in episode.entry_ids],
    }
    if episode.nadir_value is not None:
        unit = episode.nadir_unit
        resource["valueQuantity"] = {"value": episode.nadir_value, "unit": unit, "system": UCUM, "code": unit}
    return resource


async def bundle(*, session: AsyncSession, participant: Participant) -> dict[str, Any]:
    """The Bundle of the participant's glucose readings, insulin doses and episodes (voided entries left out)."""
    patient_id = str(participant.id)
    patient = f"Patient/{patient_id}"
    readings = await session.execute(
        select(GlucoseReading, col(DiaryEntry.utc_offset_minutes))
        .join(DiaryEntry, col(DiaryEntry.id) == col(GlucoseReading.entry_id))
        .where(col(GlucoseReading.participant_id) == participant.id, col(GlucoseReading.voided).is_(False))
        .order_by(col(GlucoseReading.occurred_at), col(GlucoseReading.entry_id))
    )
    doses = await session.execute(
        select(DiaryEntry)
        .where(
            col(DiaryEntry.participant_id) == participant.id,
            col(DiaryEntry.kind) == "insulin",
            col(DiaryEntry.voided).is_(False),
        )
        .order_by(col(DiaryEntry.occurred_at), col(DiaryEntry.id))
    )
    found = await episodes.episode_page(session=session, participant_id=participant.id, limit=100_000)
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": "urn:glucodiary:subject-code", "value": participant.subject_code}],
        }
    ]
    resources += [glucose_observation(patient, r, offset) for r, offset in readings.all()]
    resources += [insulin_administration(patient, e) for e in doses.scalars().all()]
    resources += [episode_observation(patient, e) for e in found.items]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": clock.now().astimezone(UTC).isoformat(),
        "entry": [_entry(r) for r in resources],
    }
