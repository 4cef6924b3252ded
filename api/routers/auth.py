"""Sign-in and tokens: password login, refresh rotation, logout, who am I, password change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import ActorDep, AuditContextDep, CurrentUser, SessionDep
from api.errors import responses
from api.forms import PasswordForm
from api.schemas.auth import MeParticipant, MePublic, MeStudy, PasswordChange, RefreshRequest, TokenPublic
from core.errors import FieldProblem, InvalidInput
from core.people import auth as auth_service
from core.studies import membership

router = APIRouter(tags=["auth"])

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_body(request: Request) -> None:
    """OAuth2's password flow sends a form; a JSON body would otherwise get a bare `username: field required`."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media not in FORM_TYPES:
        raise InvalidInput(
            "POST /auth/token takes a form (Content-Type: application/x-www-form-urlencoded) with `username` "
            f"(the e-mail) and `password`, as the OAuth2 password flow defines it; got {media or 'no body'}.",
            fields=[
                FieldProblem(
                    "body",
                    f"expected application/x-www-form-urlencoded with username and password, got {media or 'none'}",
                )
            ],
        )


@router.post(
    "/auth/token",
    operation_id="createToken",
    response_model=TokenPublic,
    responses=responses(401, 422, 429),
    dependencies=[Depends(form_body)],
)
async def login(
    session: SessionDep, context: AuditContextDep, form: Annotated[PasswordForm, Depends()]
) -> TokenPublic:
    """OAuth2 password flow: `username` is the e-mail. Repeated failures are throttled (429, Retry-After)."""
    pair = await auth_service.login(
        session=session, email=form.username, password=form.password, context=context
    )
    return TokenPublic(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post(
    "/auth/refresh", operation_id="refreshToken", response_model=TokenPublic, responses=responses(401, 422)
)
async def refresh(session: SessionDep, context: AuditContextDep, body: RefreshRequest) -> TokenPublic:
    """A new token pair for a refresh token, which is then spent; reusing a spent one ends its whole family."""
    pair = await auth_service.refresh(session=session, refresh_token=body.refresh_token, context=context)
    return TokenPublic(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/auth/logout", operation_id="logout", status_code=204, responses=responses(401))
async def logout(session: SessionDep, user: CurrentUser, context: AuditContextDep) -> Response:
    """Sign out everywhere: every access and refresh token of this login stops working."""
    await auth_service.logout(session=session, user=user, context=context)
    return Response(status_code=204)


@router.get("/me", operation_id="getMe", response_model=MePublic, responses=responses(401))
async def me(session: SessionDep, user: CurrentUser, actor: ActorDep) -> MePublic:
    """This login, the participants it may log for and the studies it belongs to."""
    participants = await auth_service.loggable_participants(session=session, actor=actor)
    studies = await membership.memberships(session=session, actor=actor)
    return MePublic(
        id=user.id,
        email=user.email,
        role=user.role,
        participants=[
            MeParticipant(id=p.id, subject_code=p.subject_code, relationship=p.relationship)
            for p in participants
        ],
        studies=[
            MeStudy(id=m.study.id, code=m.study.code, name=m.study.name, role=m.role, site_codes=m.site_codes)
            for m in studies
        ],
    )


@router.post(
    "/me/password", operation_id="changePassword", status_code=204, responses=responses(401, 403, 422, 429)
)
async def change_password(
    session: SessionDep, user: CurrentUser, context: AuditContextDep, body: PasswordChange
) -> Response:
    """Change the password; every token of this login is revoked, so sign in again with the new one."""
    await auth_service.change_password(
        session=session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        context=context,
    )
    return Response(status_code=204)
