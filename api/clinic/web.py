"""What every clinic page shares: the signed-in actor from the session cookie, CSRF checks, the top bar, rendering.

The dashboard overrides api.deps.current_actor with `clinic_actor`, so the JSON API's role checks
(require_roles) and its participant scoping (ParticipantInScope) work here unchanged.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api.deps import ActorDep, SessionDep, declared_query_parameters, require_roles
from core.access import Actor
from core.config import Environment, get_settings
from core.dashboard import overview, sessions
from core.errors import Forbidden, NotAuthenticated
from core.models.alerts import DoseDecision
from core.models.people import Role

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _local(entry: dict[str, Any]) -> str:
    """An entry's time as the participant lived it (the UTC offset it was entered with); an answer holds a
    datetime, an audit record its text."""
    occurred = entry["occurred_at"]
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    at = occurred + timedelta(minutes=entry.get("utc_offset_minutes") or 0)
    return at.strftime("%Y-%m-%d %H:%M")


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["local"] = _local
STATIC_DIR = HERE / "static"

PREFIX = "/clinic"
SESSION_COOKIE = "gd_clinic"
SIGN_IN_COOKIE = "gd_clinic_sign_in"  # the sign-in form's CSRF token before any session exists
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

INBOX_ROLES = (Role.clinician, Role.coordinator)
STAFF_ROLES = (Role.clinician, Role.coordinator, Role.statistician, Role.admin)
VISIT_ROLES = (Role.coordinator, Role.clinician)  # as the JSON API's visit routes
REPORT_ROLES = (Role.statistician, Role.coordinator, Role.clinician, Role.admin)  # as core.reports
CLINIC_ROLES = frozenset(STAFF_ROLES)

# the top bar: (key, label, path, roles that may use the page)
NAV = (
    ("inbox", "Alert inbox", f"{PREFIX}/inbox", INBOX_ROLES),
    ("participants", "Participants", f"{PREFIX}/participants", STAFF_ROLES),
    ("visits", "Visit calendar", f"{PREFIX}/visits", VISIT_ROLES),
    ("reports", "Reports", f"{PREFIX}/reports", REPORT_ROLES),
)


DECISIONS = [
    (DoseDecision.no_change, "No change"),
    (DoseDecision.increase, "Increase the dose"),
    (DoseDecision.decrease, "Decrease the dose"),
    (DoseDecision.contacted_participant, "Contacted the participant"),
]


def secure_cookies() -> bool:
    # plain http on a developer's machine; everywhere else the dashboard is behind TLS
    return get_settings().env is not Environment.development


async def staff_session(request: Request, session: SessionDep) -> sessions.Current | None:
    """The live session of the cookie, if it is a staff member's (only staff ever get one; this makes sure)."""
    current = await sessions.current(session=session, token=request.cookies.get(SESSION_COOKIE))
    if current is None or Actor.of(current.user).role not in CLINIC_ROLES:
        return None
    return current


async def clinic_actor(request: Request, session: SessionDep) -> Actor:
    """The staff member of the session cookie (NotAuthenticated -> the sign-in page)."""
    current = await staff_session(request, session)
    if current is None:
        request.state.session_ended = SESSION_COOKIE in request.cookies
        raise NotAuthenticated("Sign in to use the clinic dashboard.")
    request.state.clinic = current
    return Actor.of(current.user)


async def csrf_checked(request: Request, actor: ActorDep) -> Actor:
    """The actor, if the request carries its session's CSRF token (htmx header or form field)."""
    expected = request.state.clinic.row.csrf_token
    given: object = request.headers.get(CSRF_HEADER)
    if given is None:
        given = (await request.form()).get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(
            "This form did not come from your current dashboard page (its CSRF token is missing or old). "
            "Reload the page and try again."
        )
    return actor


CsrfChecked = Annotated[Actor, Depends(csrf_checked)]
InboxActor = Annotated[Actor, Depends(require_roles(*INBOX_ROLES))]
StaffActor = Annotated[Actor, Depends(require_roles(*STAFF_ROLES))]
ClinicianActor = Annotated[Actor, Depends(require_roles(Role.clinician))]
VisitActor = Annotated[Actor, Depends(require_roles(*VISIT_ROLES))]
ReportActor = Annotated[Actor, Depends(require_roles(*REPORT_ROLES))]


async def note_unknown_query(request: Request) -> None:
    """Remember the query parameters the page does not take, to name them on the page and otherwise ignore them.

    The JSON API answers 422 for them (api.deps.reject_unknown_query): a program must not believe a misspelt
    filter was applied. A person following an old bookmark or a shared link should still get the page; it says
    which parts of the link it ignored, so nobody reads an unfiltered page as a filtered one.
    """
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        allowed = declared_query_parameters(route)
        request.state.ignored_query = [
            k for k in dict.fromkeys(request.query_params.keys()) if k not in allowed
        ][:5]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def nav_for(role: Role) -> list[tuple[str, str, str]]:
    return [(key, label, path) for key, label, path, roles in NAV if role in roles]


def home_for(role: Role) -> str:
    items = nav_for(role)
    return items[0][2] if items else f"{PREFIX}/sign-in"


async def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: SessionDep | None = None,
    actor: Actor | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A full page (or an htmx fragment) with what the layout needs: the top bar, the CSRF token, the counts."""
    current = getattr(request.state, "clinic", None)
    shared: dict[str, Any] = {
        "prefix": PREFIX,
        "actor": actor,
        "nav": [],
        "new_alerts": None,
        "csrf": "",
        "ignored_query": getattr(request.state, "ignored_query", []),
    }
    if actor is not None and current is not None:
        shared["nav"] = nav_for(actor.role)
        shared["csrf"] = current.row.csrf_token
        if session is not None and actor.role in INBOX_ROLES:
            shared["new_alerts"] = await overview.new_alert_count(session=session, actor=actor)
    return TEMPLATES.TemplateResponse(request, template, {**shared, **context}, status_code=status_code)


def back_to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def sign_in_redirect(request: Request) -> Response:
    """Where an unauthenticated request goes: the sign-in page, coming back here afterwards (GET only)."""
    ended = getattr(request.state, "session_ended", False)
    target = f"{PREFIX}/sign-in"
    params = []
    if request.method == "GET" and not is_htmx(request):
        params.append(f"next={quote(request.url.path)}")
    if ended:
        params.append("expired=1")
    if params:
        target += "?" + "&".join(params)
    if is_htmx(request):
        # htmx follows HX-Redirect with a full page load instead of swapping a sign-in form into a card
        return Response(status_code=401, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303)
    if ended:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def safe_next(value: str | None) -> str | None:
    """Only a path of this dashboard may be the place to go after sign-in (no open redirect)."""
    if value and value.startswith(f"{PREFIX}/") and "//" not in value and "\\" not in value:
        return value
    return None
