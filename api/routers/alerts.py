"""Alerts: the clinicians' and coordinators' inbox, acknowledge, resolve, and dose-review decisions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import AuditContextDep, ClinicianActor, SessionDep, require_roles
from api.errors import responses
from api.schemas.alerts import AlertPage, AlertPublic, AlertResolve, DoseReviewDecision
from core.access import Actor
from core.models.alerts import AlertCategory, AlertKind, AlertStatus, Severity
from core.models.people import Role
from core.rules import lifecycle

router = APIRouter(prefix="/alerts", tags=["alerts"])

# the statistician reads what a coordinator reads (README, roles) but never acts on an alert; no alert answer
# carries arm information, so blinding holds for every reader
InboxActor = Annotated[Actor, Depends(require_roles(Role.clinician, Role.coordinator, Role.statistician))]


@router.get("", operation_id="listAlerts", response_model=AlertPage, responses=responses(401, 403, 422))
async def list_alerts(
    session: SessionDep,
    actor: InboxActor,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    category: Annotated[AlertCategory | None, Query(description="safety or dose_review")] = None,
    severity: Severity | None = None,
    participant_id: uuid.UUID | None = None,
    site_id: Annotated[uuid.UUID | None, Query(description="alerts of participants at this site")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertPage:
    """Alerts of the participants in the caller's scope: open first, then acknowledged, then resolved; within
    each by severity (critical, urgent, warning, info), then newest first."""
    page = await lifecycle.list_alerts(
        session=session,
        actor=actor,
        status=status,
        kind=kind,
        category=category,
        severity=severity,
        participant_id=participant_id,
        site_id=site_id,
        limit=limit,
        cursor=cursor,
    )
    return AlertPage(items=[AlertPublic.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.post(
    "/{alert_id}/acknowledge",
    operation_id="acknowledgeAlert",
    response_model=AlertPublic,
    responses=responses(401, 403, 404, 409),
)
async def acknowledge_alert(
    alert_id: uuid.UUID, session: SessionDep, actor: ClinicianActor, context: AuditContextDep
) -> AlertPublic:
    view = await lifecycle.acknowledge(session=session, actor=actor, alert_id=alert_id, context=context)
    return AlertPublic.of(view)


@router.post(
    "/{alert_id}/resolve",
    operation_id="resolveAlert",
    response_model=AlertPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def resolve_alert(
    alert_id: uuid.UUID,
    body: AlertResolve,
    session: SessionDep,
    actor: ClinicianActor,
    context: AuditContextDep,
) -> AlertPublic:
    view = await lifecycle.resolve(
        session=session, actor=actor, alert_id=alert_id, note=body.note, context=context
    )
    return AlertPublic.of(view)


@router.post(
    "/{alert_id}/decision",
    operation_id="decideDoseReview",
    response_model=AlertPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def decide_dose_review(
    alert_id: uuid.UUID,
    body: DoseReviewDecision,
    session: SessionDep,
    actor: ClinicianActor,
    context: AuditContextDep,
) -> AlertPublic:
    """Record the clinician's decision on a dose-review suggestion (audited); nothing is applied to a dose."""
    view = await lifecycle.decide(
        session=session,
        actor=actor,
        alert_id=alert_id,
        decision=body.decision,
        note=body.note,
        context=context,
    )
    return AlertPublic.of(view)
