"""Invitations: staff make a code for a participant's or guardian's login; the app redeems it."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuditContextDep, CoordinatorActor, ParticipantInScope, SessionDep
from api.errors import responses
from api.schemas.auth import InvitationCreate, InvitationPublic, InvitationRedeem, UserRef
from core.models.people import Role
from core.people import invitations as invitation_service

router = APIRouter(tags=["invitations"])


@router.post(
    "/participants/{participant_id}/invitations",
    operation_id="createInvitation",
    status_code=201,
    response_model=InvitationPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def create_invitation(
    session: SessionDep,
    actor: CoordinatorActor,
    participant: ParticipantInScope,
    context: AuditContextDep,
    body: InvitationCreate,
) -> InvitationPublic:
    """A single-use code (valid `invitation_days`) that creates the participant's or a guardian's login."""
    issued = await invitation_service.create_invitation(
        session=session,
        actor=actor,
        participant=participant,
        role=Role(body.role),
        relationship=body.relationship,
        context=context,
    )
    return InvitationPublic(code=issued.code, expires_at=issued.expires_at)


@router.post(
    "/invitations/redeem",
    operation_id="redeemInvitation",
    status_code=201,
    response_model=UserRef,
    responses=responses(404, 409, 422),
)
async def redeem_invitation(session: SessionDep, context: AuditContextDep, body: InvitationRedeem) -> UserRef:
    """Create the login an invitation was made for; then sign in at /auth/token."""
    user = await invitation_service.redeem(
        session=session, code=body.code, email=body.email, password=body.password, context=context
    )
    return UserRef(user_id=user.id, role=user.role)
