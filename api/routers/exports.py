"""Exports for other systems: one participant's diary as a FHIR R4 Bundle (CLINICAL.md section 5), and a study's
glucose readings as one tidy CSV, streamed."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from api import csvstream
from api.deps import ParticipantInScope, SessionDep, StaffActor, StreamSessionDep
from api.errors import responses
from core.reports import fhir, readings
from core.reports import service as reports
from core.reports.service import Filters

router = APIRouter(prefix="/participants/{participant_id}/export", tags=["exports"])
study_router = APIRouter(prefix="/studies/{study_id}/export", tags=["exports"])


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


@study_router.get(
    "/readings",
    operation_id="exportStudyReadings",
    responses={
        **responses(401, 403, 404, 422),
        200: {"content": {"text/csv": {}}, "description": "tidy CSV, one row per glucose reading"},
    },
)
async def export_readings(
    study_id: uuid.UUID,
    session: SessionDep,
    stream: StreamSessionDep,
    actor: StaffActor,
    site: Annotated[str | None, Query(max_length=40, description="a site code")] = None,
    arm: Annotated[str | None, Query(max_length=40, description="an arm code (unblinded roles only)")] = None,
    from_: Annotated[date | None, Query(alias="from", description="first local date (inclusive)")] = None,
    to: Annotated[date | None, Query(description="local date the export stops before (exclusive)")] = None,
) -> Response:
    """Every glucose reading (not voided) of the study's participants in the caller's report scope, as tidy CSV
    streamed as the database sends it: subject, site (arm for unblinded readers), entry id, time, local date,
    context, value and unit as entered, mg/dL. Who may and blinding as for the study reports."""
    _, scope, unblinded = await reports.resolve_scope(
        session=session,
        actor=actor,
        study_id=study_id,
        filters=Filters(site=site, arm=arm, start=from_, to=to),
    )
    names = [c.name for c in readings.columns(unblinded=unblinded)]
    query = readings.export_query(scope, unblinded=unblinded)

    # the query's columns are `names`, in order: its rows go to the CSV writer as they are
    return csvstream.response(f"readings-{scope.cut}.csv", names, reports.stream_results(stream, query))
