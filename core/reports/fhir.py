"""A participant's diary as a FHIR R4 Bundle (type collection), coded as CLINICAL.md section 5 says.

- Glucose: Observation, LOINC 41653-7 (capillary, glucometer, mass: mg/dL) or 14743-9 (moles: mmol/L), 41604-0
  for a fasting mg/dL reading; the value in the unit entered (UCUM); `effectiveDateTime` = measurement time in
  the offset it was entered with; the measurement context as a component (no LOINC for it: text).
- Insulin: MedicationAdministration per dose, dose in UCUM `[IU]`, route subcutaneous (SNOMED 263887005).
- Visit labs of completed visits: HbA1c as NGSP % (LOINC 4548-4) and IFCC mmol/mol (59261-8, derived from the %
  by the IFCC master equation, `derivedFrom` the % Observation); fasting and stimulated C-peptide in ng/mL
  (1986-9, C-peptide [Mass/volume] in Serum or Plasma, the sampling named in `code.text`: the fasting-specific
  codes of CLINICAL.md 5.1 come from a single unverified source, so they are not used), `effectiveDateTime` =
  the visit's completion date.
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
from core.models.visits import Visit, VisitStatus

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

LAB = [{"coding": [{"system": CATEGORY, "code": "laboratory", "display": "Laboratory"}]}]
# visit result (as stored) -> LOINC code, display, the sampling as text, UCUM unit
VISIT_LABS = {
    "hba1c_percent": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "HbA1c (NGSP)", "%"),
    "hba1c_mmol_mol": (
        "59261-8",
        "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
        "HbA1c (IFCC)",
        "mmol/mol",
    ),
    "c_peptide_fasting_ng_ml": (
        "1986-9",
        "C peptide [Mass/volume] in Serum or Plasma",
        "C-peptide, fasting",
        "ng/mL",
    ),
    "c_peptide_stimulated_ng_ml": (
        "1986-9",
        "C peptide [Mass/volume] in Serum or Plasma",
        "C-peptide, stimulated (mixed-meal tolerance test)",
        "ng/mL",
    ),
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
        "category": LAB,
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


def _lab_id(visit: Visit, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"glucodiary/visit/{visit.id}/{name}"))


def visit_observations(patient: str, visit: Visit) -> list[dict[str, Any]]:
    """One Observation per lab result of a completed visit, in the order of VISIT_LABS."""
    values = {**visit.results, **visit.derived}
    resources = []
    for name, (code, display, text, unit) in VISIT_LABS.items():
        if values.get(name) is None or visit.completed_on is None:
            continue
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _lab_id(visit, name),
            "status": "final",
            "category": LAB,
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": text},
            "subject": {"reference": patient},
            "effectiveDateTime": visit.completed_on.isoformat(),
            "valueQuantity": {"value": float(values[name]), "unit": unit, "system": UCUM, "code": unit},
            "note": [{"text": f"study visit {visit.label} (month {visit.month})"}],
        }
        if name == "hba1c_mmol_mol" and values.get("hba1c_percent") is not None:
            resource["derivedFrom"] = [{"reference": f"Observation/{_lab_id(visit, 'hba1c_percent')}"}]
        resources.append(resource)
    return resources


def episode_observation(patient: str, episode: Any) -> dict[str, Any]:
    # an episode is identified by what it is made of (two events at the same minute are two episodes)
    made_of = ",".join(sorted(map(str, (*episode.entry_ids, *episode.event_ids))))
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{patient}/episode/{episode.start_at.isoformat()}/{made_of}")
        ),
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
    """The Bundle of the participant's glucose readings, insulin doses, visit labs and episodes (voided entries
    left out)."""
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
    visits = await session.execute(
        select(Visit)
        .where(col(Visit.participant_id) == participant.id, col(Visit.status) == VisitStatus.completed.value)
        .order_by(col(Visit.completed_on), col(Visit.month))
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
    resources += [o for visit in visits.scalars().all() for o in visit_observations(patient, visit)]
    resources += [episode_observation(patient, e) for e in found.items]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": clock.now().astimezone(UTC).isoformat(),
        "entry": [_entry(r) for r in resources],
    }
