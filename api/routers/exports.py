"""Exports of one participant's diary for other systems: a FHIR R4 Bundle (CLINICAL.md section 5)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response

from api.deps import ParticipantInScope, SessionDep, StaffActor
from api.errors import responses
from core.reports import fhir

router = APIRouter(prefix="/participants/{participant_id}/export", tags=["exports"])


@router.get(
    "/fhir",
    operation_id="exportFhirBundle",
    responses={
        **responses(401, 403, 404, 422),
        200: {"content": {"application/fhir+json": {}}, "description": "a FHIR R4 Bundle of type collection"},
    },
)
async def export_fhir(participant: ParticipantInScope, session: SessionDep, actor: StaffActor) -> Response:
    """The participant's glucose readings (LOINC), insulin doses and hypoglycemia episodes as a FHIR Bundle."""
    del actor  # staff only: the dependency refuses the participant's side
    document = await fhir.bundle(session=session, participant=participant)
    return Response(orjson.dumps(document), media_type="application/fhir+json")
