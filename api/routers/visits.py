"""Study visits: a participant's plan, and staff recording a visit completed (with results), missed or
cancelled."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import AuditContextDep, ParticipantInScope, SessionDep, require_roles
from api.errors import responses
from api.schemas.visits import (
    StudyVisitPage,
    StudyVisitPublic,
    VisitComplete,
    VisitList,
    VisitPublic,
    VisitReason,
)
from core.access import Actor
from core.models.people import Role
from core.models.visits import VisitStatus
from core.visits import calendar, recording
from core.visits import service as visit_service

router = APIRouter(tags=["visits"])

# API.md: clinicians record results, coordinators manage visits; both may do all three
VisitStaff = Annotated[Actor, Depends(require_roles(Role.clinician, Role.coordinator))]


@router.get(
    "/participants/{participant_id}/visits",
    operation_id="listParticipantVisits",
    response_model=VisitList,
    responses=responses(401, 404),
)
async def list_participant_visits(session: SessionDep, participant: ParticipantInScope) -> VisitList:
    """The participant's visits in date order (dates local to the participant)."""
    visits = await visit_service.visits_of(session=session, participant_id=participant.id)
    return VisitList(items=[VisitPublic.of(v) for v in visits])


@router.post(
    "/visits/{visit_id}/complete",
    operation_id="completeVisit",
    response_model=VisitPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def complete_visit(
    visit_id: uuid.UUID, body: VisitComplete, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """Mark the visit done with its lab results (each optional). Completing a completed visit again is a
    correction: send a reason (409 without one); it becomes a new version and the earlier one stays."""
    visit, _ = await recording.complete(
        session=session,
        actor=actor,
        visit_id=visit_id,
        completed_on=body.completed_on,
        results=body.results(),
        reason=body.reason,
        version=body.version,
        context=context,
    )
    return VisitPublic.of(visit)


@router.post(
    "/visits/{visit_id}/missed",
    operation_id="markVisitMissed",
    response_model=VisitPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def mark_visit_missed(
    visit_id: uuid.UUID, body: VisitReason, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """A planned visit did not take place (it may still be completed later)."""
    visit, _ = await recording.mark_missed(
        session=session,
        actor=actor,
        visit_id=visit_id,
        reason=body.reason,
        version=body.version,
        context=context,
    )
    return VisitPublic.of(visit)


@router.post(
    "/visits/{visit_id}/cancel",
    operation_id="cancelVisit",
    response_model=VisitPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def cancel_visit(
    visit_id: uuid.UUID, body: VisitReason, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """A planned or missed visit will not take place."""
    visit, _ = await recording.cancel(
        session=session,
        actor=actor,
        visit_id=visit_id,
        reason=body.reason,
        version=body.version,
        context=context,
    )
    return VisitPublic.of(visit)


@router.get(
    "/studies/{study_id}/visits",
    operation_id="listStudyVisits",
    response_model=StudyVisitPage,
    responses=responses(401, 403, 404, 422),
)
async def list_study_visits(
    study_id: uuid.UUID,
    session: SessionDep,
    actor: VisitStaff,
    status: VisitStatus | None = None,
    site: Annotated[str | None, Query(max_length=40, description="a site code of the study")] = None,
    date_from: Annotated[date | None, Query(alias="from", description="target date on or after")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="target date on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> StudyVisitPage:
    """The study's visit calendar by target date: visits of the participants at the caller's sites."""
    page = await calendar.study_visits(
        session=session,
        actor=actor,
        study_id=study_id,
        status=status,
        site_code=site,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    return StudyVisitPage(
        items=[
            StudyVisitPublic.of_row(visit, subject, site_code) for visit, subject, site_code in page.items
        ],
        next_cursor=page.next_cursor,
    )
