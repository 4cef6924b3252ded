"""Study visits: a participant's plan, and staff recording a visit completed (with results), missed or
cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

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
from core.audit import AuditContext
from core.models.people import Role
from core.models.visits import Visit, VisitStatus
from core.visits import calendar, recording
from core.visits import service as visit_service

router = APIRouter(tags=["visits"])
_Route = TypeVar("_Route", bound=Callable[..., Any])

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


def _action(name: str, operation_id: str) -> Callable[[_Route], _Route]:
    """The three ways staff record a visit answer alike: POST /visits/{id}/<name>, the visit as it now is."""
    return router.post(
        f"/visits/{{visit_id}}/{name}",
        operation_id=operation_id,
        response_model=VisitPublic,
        responses=responses(401, 403, 404, 409, 422),
    )


async def _recorded(
    record: Callable[..., Awaitable[tuple[Visit, Any]]],
    *,
    visit_id: uuid.UUID,
    body: VisitComplete | VisitReason,
    session: AsyncSession,
    actor: Actor,
    context: AuditContext,
    **fields: Any,
) -> VisitPublic:
    visit, _ = await record(
        session=session,
        actor=actor,
        visit_id=visit_id,
        reason=body.reason,
        version=body.version,
        context=context,
        **fields,
    )
    return VisitPublic.of(visit)


@_action("complete", "completeVisit")
async def complete_visit(
    visit_id: uuid.UUID, body: VisitComplete, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """Mark the visit done with its lab results (each optional). Completing a completed visit again is a
    correction: send a reason (409 without one); it becomes a new version and the earlier one stays."""
    return await _recorded(
        recording.complete,
        visit_id=visit_id,
        body=body,
        session=session,
        actor=actor,
        context=context,
        completed_on=body.completed_on,
        results=body.results(),
    )


@_action("missed", "markVisitMissed")
async def mark_visit_missed(
    visit_id: uuid.UUID, body: VisitReason, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """A planned visit did not take place (it may still be completed later)."""
    return await _recorded(
        recording.mark_missed, visit_id=visit_id, body=body, session=session, actor=actor, context=context
    )


@_action("cancel", "cancelVisit")
async def cancel_visit(
    visit_id: uuid.UUID, body: VisitReason, session: SessionDep, actor: VisitStaff, context: AuditContextDep
) -> VisitPublic:
    """A planned or missed visit will not take place."""
    return await _recorded(
        recording.cancel, visit_id=visit_id, body=body, session=session, actor=actor, context=context
    )


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
