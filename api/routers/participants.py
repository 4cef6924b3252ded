"""Enrolment and the participant list of a study, as each role may see them (arms only when unblinded)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ActorDep, AuditContextDep, CoordinatorActor, ParticipantInScope, SessionDep, StaffActor
from api.errors import responses
from api.schemas.studies import ParticipantCreate, ParticipantPagePublic, ParticipantPublic, ParticipantUpdate
from core.studies import enrolment as enrolment_service
from core.studies import participants as participant_service

router = APIRouter(tags=["participants"])


@router.post(
    "/studies/{study_id}/participants",
    operation_id="enrolParticipant",
    status_code=201,
    response_model=ParticipantPublic,
    response_model_exclude_unset=True,
    responses=responses(401, 403, 404, 409, 422),
)
async def enrol_participant(
    session: SessionDep,
    actor: CoordinatorActor,
    context: AuditContextDep,
    study_id: uuid.UUID,
    body: ParticipantCreate,
) -> ParticipantPublic:
    """Enrol a participant; a failed eligibility criterion is a 422 naming it unless overridden with a reason."""
    consent = body.consent
    override = body.eligibility_override
    view = await enrolment_service.enrol(
        session=session,
        actor=actor,
        study_id=study_id,
        enrolment=enrolment_service.Enrolment(
            **body.model_dump(exclude={"consent", "eligibility_override"}),
            consent=enrolment_service.Consent(**consent.model_dump()) if consent else None,
            eligibility_override=(
                enrolment_service.EligibilityOverride(**override.model_dump()) if override else None
            ),
        ),
        context=context,
    )
    return ParticipantPublic.of(view)


@router.get(
    "/studies/{study_id}/participants",
    operation_id="listParticipants",
    response_model=ParticipantPagePublic,
    response_model_exclude_unset=True,
    responses=responses(401, 403, 404, 422),
)
async def list_participants(
    session: SessionDep,
    actor: StaffActor,
    study_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ParticipantPagePublic:
    """The study's participants in the caller's scope, by subject code."""
    page = await enrolment_service.list_participants(
        session=session, actor=actor, study_id=study_id, limit=limit, cursor=cursor
    )
    return ParticipantPagePublic(
        items=[ParticipantPublic.of(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/participants/{participant_id}",
    operation_id="getParticipant",
    response_model=ParticipantPublic,
    response_model_exclude_unset=True,
    responses=responses(401, 404),
)
async def read_participant(
    session: SessionDep, actor: ActorDep, participant: ParticipantInScope
) -> ParticipantPublic:
    """One participant in the caller's scope (arm only for roles that see the allocation)."""
    return ParticipantPublic.of(
        await enrolment_service.participant_view(session=session, actor=actor, participant=participant)
    )


@router.patch(
    "/participants/{participant_id}",
    operation_id="updateParticipant",
    response_model=ParticipantPublic,
    response_model_exclude_unset=True,
    responses=responses(401, 403, 404, 422),
)
async def change_participant(
    session: SessionDep,
    actor: CoordinatorActor,
    participant: ParticipantInScope,
    context: AuditContextDep,
    body: ParticipantUpdate,
) -> ParticipantPublic:
    """Withdraw, complete, move to another time zone, correct the birth date or day 0 (`treatment_date`: the
    visits still planned are re-planned); forward-only status, every change audited with the reason."""
    view = await participant_service.change_participant(
        session=session,
        actor=actor,
        participant=participant,
        status=body.status,
        timezone=body.timezone,
        birth_date=body.birth_date,
        treatment_date=body.treatment_date,
        reason=body.reason,
        context=context,
    )
    return ParticipantPublic.of(view)


@router.delete(
    "/participants/{participant_id}/guardians/{guardian_user_id}",
    operation_id="endGuardianLink",
    status_code=204,
    responses=responses(401, 403, 404, 422),
)
async def end_guardian_link(
    session: SessionDep,
    actor: CoordinatorActor,
    participant: ParticipantInScope,
    context: AuditContextDep,
    guardian_user_id: uuid.UUID,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
) -> Response:
    """Stop a guardian's access to this participant (?reason= required; the link stays on record, inactive)."""
    await participant_service.end_guardian_link(
        session=session,
        actor=actor,
        participant=participant,
        guardian_user_id=guardian_user_id,
        reason=reason,
        context=context,
    )
    return Response(status_code=204)
