"""Signing in and out of the clinic dashboard with the API's accounts, passwords and login throttling."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.clinic import web
from api.deps import AuditContextDep, SessionDep
from core.access import Actor
from core.dashboard import sessions
from core.errors import NotAuthenticated, Throttled
from core.people import auth as auth_service

router = APIRouter()

USE_THE_APP = (
    "This dashboard is for trial staff. Participants and guardians keep the diary in the Glucodiary app "
    "on their phone: please sign in there."
)


@router.get("/", name="clinicHome", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep) -> Response:
    """The first page of the signed-in user's role, or the sign-in page."""
    current = await web.staff_session(request, session)
    if current is None:
        return web.back_to(f"{web.PREFIX}/sign-in")
    return web.back_to(web.home_for(Actor.of(current.user).role))


def _form(
    request: Request, *, status: int = 200, message: str = "", email: str = "", next_path: str | None = None
) -> Response:
    token = request.cookies.get(web.SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    notice = ""
    if request.query_params.get("expired"):
        notice = "Your session ended. Please sign in again."
    elif request.query_params.get("signed_out"):
        notice = "You are signed out."
    response = web.TEMPLATES.TemplateResponse(
        request,
        "signin.html",
        {
            "prefix": web.PREFIX,
            "actor": None,
            "nav": [],
            "csrf": token,
            "new_alerts": None,
            "message": message,
            "notice": notice,
            "email": email,
            "next": next_path or "",
        },
        status_code=status,
    )
    response.set_cookie(
        web.SIGN_IN_COOKIE,
        token,
        path=web.PREFIX,
        httponly=True,
        secure=web.secure_cookies(),
        samesite="strict",
    )
    return response


@router.get("/sign-in", name="clinicSignInForm", response_class=HTMLResponse)
async def sign_in_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    current = await web.staff_session(request, session)
    if current is not None:
        return web.back_to(web.safe_next(next) or web.home_for(Actor.of(current.user).role))
    return _form(request, next_path=web.safe_next(next))


@router.post("/sign-in", name="clinicSignIn", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    session: SessionDep,
    context: AuditContextDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The API's authentication (same throttling, same audit), then a new server-side session for this browser."""
    expected = request.cookies.get(web.SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        message = "The sign-in form was out of date. Please try again."
        return _form(request, status=403, message=message, email=email, next_path=web.safe_next(next))
    try:
        user = await auth_service.authenticate(
            session=session, email=email, password=password, context=context
        )
    except Throttled as exc:
        response = _form(request, status=429, message=exc.detail, email=email, next_path=web.safe_next(next))
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    except NotAuthenticated as exc:
        return _form(request, status=401, message=exc.detail, email=email, next_path=web.safe_next(next))
    role = Actor.of(user).role
    if role not in web.CLINIC_ROLES:
        return _form(request, status=403, message=USE_THE_APP, email=email)
    started = await sessions.start(
        session=session,
        user=user,
        previous_token=request.cookies.get(web.SESSION_COOKIE),
        context=context,
    )
    response = web.back_to(web.safe_next(next) or web.home_for(role))
    response.set_cookie(
        web.SESSION_COOKIE,
        started.token,
        path=web.PREFIX,
        httponly=True,
        secure=web.secure_cookies(),
        samesite="strict",
    )
    response.delete_cookie(web.SIGN_IN_COOKIE, path=web.PREFIX)
    return response


@router.post("/sign-out", name="clinicSignOut", response_class=HTMLResponse)
async def sign_out(
    request: Request, session: SessionDep, actor: web.CsrfChecked, context: AuditContextDep
) -> Response:
    """Revokes the session at once; its cookie is cleared."""
    await sessions.end(session=session, token=request.cookies.get(web.SESSION_COOKIE), context=context)
    response = web.back_to(f"{web.PREFIX}/sign-in?signed_out=1")
    response.delete_cookie(web.SESSION_COOKIE, path=web.PREFIX)
    return response
