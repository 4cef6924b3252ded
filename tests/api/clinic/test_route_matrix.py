"""Every /clinic route, called by every role: the page, the refusal the role should get, the scope's 404, and on
each page a strict Content-Security-Policy, no inline script or style, and no arm for a blinded role."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount

from api.main import create_app
from core import clock
from core.audit import AuditContext
from core.dashboard import sessions
from core.models.people import Role, User
from core.models.study import Participant
from core.models.visits import Visit
from tests import factories
from tests.api.clinic.helpers import csrf_of, signed_in
from tests.api.test_route_matrix import build_world
from tests.core.rules.diary_rows import create_alert

STAFF = {"clinician", "coordinator", "statistician", "admin"}
SEES_ARMS = {"statistician", "admin"}
SCOPE_LIMITED = {"clinician", "coordinator"}
ROLES = ("participant", "guardian", "clinician", "coordinator", "statistician", "admin", "anonymous")


@dataclass
class Ctx:
    session: AsyncSession
    api: httpx.AsyncClient
    target: Participant
    user: User | None


@dataclass
class Row:
    ok: set[str]
    build: Callable[[Ctx], Awaitable[dict[str, Any]]] | None = None
    expect: dict[str, int] = field(default_factory=dict)  # statuses other than 200 / 303 / 403


async def _alert(ctx: Ctx, **overrides: Any) -> dict[str, Any]:
    alert = await create_alert(ctx.session, ctx.target, **overrides)
    return {"alert_id": str(alert.id)}


async def _safety_alert(ctx: Ctx) -> dict[str, Any]:
    found = await _alert(ctx, kind="hypoglycemia_level_2", category="safety", severity="urgent")
    return {**found, "data": {"note": "Juice, 95 mg/dL at recheck."}}


async def _decision(ctx: Ctx) -> dict[str, Any]:
    return {**await _alert(ctx), "data": {"decision": "no_change", "note": "Watch one more week."}}


async def _entry(ctx: Ctx) -> dict[str, Any]:
    owner = await ctx.session.get(User, ctx.target.user_id)
    assert owner is not None
    body = factories.entry_body("glucose", occurred_at="2026-11-02T07:30:00+01:00")
    made = await ctx.api.post(
        factories.entries_path(ctx.target), json=body, headers=factories.auth_headers(owner)
    )
    assert made.status_code == 201, made.text
    return {"entry_id": body["id"]}


async def _visit(ctx: Ctx) -> dict[str, Any]:
    today = clock.now().date()
    visit = Visit(
        participant_id=ctx.target.id,
        study_id=ctx.target.study_id,
        label="M1",
        month=1,
        target_date=today - timedelta(days=2),
        window_start=today - timedelta(days=9),
        window_end=today + timedelta(days=5),
        protocol_version=1,
    )
    ctx.session.add(visit)
    await ctx.session.flush()
    return {"visit_id": str(visit.id)}


async def _completion(ctx: Ctx) -> dict[str, Any]:
    made = await _visit(ctx)
    return {**made, "data": {"completed_on": clock.now().date().isoformat(), "hba1c_percent": "7.1"}}


async def _missed(ctx: Ctx) -> dict[str, Any]:
    return {**await _visit(ctx), "data": {"reason": "Did not come; phoned, rebooking."}}


async def _own_credentials(ctx: Ctx) -> dict[str, Any]:
    email = ctx.user.email if ctx.user else "nobody@example.org"
    return {"data": {"email": email, "password": factories.DEFAULT_PASSWORD}, "sign_in_form": True}


async def _report(ctx: Ctx) -> dict[str, Any]:
    return {"report": "hypoglycemia"}


SIGNED_IN_ANYONE = {"clinician": 303, "coordinator": 303, "statistician": 303, "admin": 303}
ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/"): Row(ok=set(), expect={role: 303 for role in ROLES}),
    ("GET", "/sign-in"): Row(ok={"participant", "guardian", "anonymous"}, expect=SIGNED_IN_ANYONE),
    ("POST", "/sign-in"): Row(
        ok=set(),
        build=_own_credentials,
        expect={**SIGNED_IN_ANYONE, "participant": 403, "guardian": 403, "anonymous": 401},
    ),
    ("POST", "/sign-out"): Row(ok=set(), expect=SIGNED_IN_ANYONE),
    ("GET", "/inbox"): Row(ok={"clinician", "coordinator"}),
    ("POST", "/alerts/{alert_id}/acknowledge"): Row(ok={"clinician"}, build=_safety_alert),
    ("POST", "/alerts/{alert_id}/resolve"): Row(ok={"clinician"}, build=_safety_alert),
    ("POST", "/alerts/{alert_id}/decision"): Row(ok={"clinician"}, build=_decision),
    ("GET", "/participants"): Row(ok=STAFF),
    ("GET", "/participants/{participant_id}"): Row(ok=STAFF),
    ("GET", "/participants/{participant_id}/entries/{entry_id}"): Row(ok=STAFF, build=_entry),
    ("GET", "/visits"): Row(ok={"coordinator", "clinician"}),
    ("POST", "/visits/{visit_id}/complete"): Row(ok={"coordinator", "clinician"}, build=_completion),
    ("POST", "/visits/{visit_id}/missed"): Row(ok={"coordinator", "clinician"}, build=_missed),
    ("GET", "/reports"): Row(ok=STAFF),
    ("GET", "/reports/{report}"): Row(ok=STAFF, build=_report),
    ("GET", "/reports/{report}/csv"): Row(ok=STAFF, build=_report),
}


def _clinic_app(app: FastAPI) -> FastAPI:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/clinic")
    assert isinstance(mount.app, FastAPI)
    return mount.app


def test_every_clinic_route_has_a_row() -> None:
    # FastAPI keeps included routers as branches of app.routes; iter_route_contexts flattens them
    routes = {
        (method, route.path)
        for route in iter_route_contexts(_clinic_app(create_app()).routes)
        if route.path and route.methods and not route.path.startswith("/static")
        for method in route.methods
        if method != "HEAD"
    }
    assert sorted(routes - ROWS.keys()) == [], "clinic routes without a row in test_route_matrix.ROWS"
    assert sorted(ROWS.keys() - routes) == [], "rows for clinic routes that do not exist"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


def check_page_hygiene(response: httpx.Response, role: str, label: str) -> None:
    """What every dashboard answer must carry, and what a page must not contain."""
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "style-src 'self'" in csp, f"{label}: CSP is {csp!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, label
    if response.headers.get("content-type", "").startswith("text/html") and response.text:
        html = response.text
        assert not INLINE_SCRIPT.search(html), f"{label}: an inline script"
        assert "<style" not in html and " style=" not in html, f"{label}: inline style"
        assert not re.search(r"\son[a-z]+=", html), f"{label}: an inline event handler"
        if role not in SEES_ARMS:
            assert not re.search(r"\barms?\b", html, re.I), f"{label}: a blinded {role} sees an arm"


async def _sign_in_as(role: str, user: User | None, browser: httpx.AsyncClient, session: AsyncSession) -> str:
    """Signs the role in and returns its CSRF token ('' for anonymous). Participants and guardians cannot sign
    in; they get a session row made directly, which the dashboard must refuse all the same."""
    if user is None:
        return ""
    if role in STAFF:
        return await signed_in(browser, user)
    started = await sessions.start(session=session, user=user, previous_token=None, context=AuditContext())
    browser.cookies.set("gd_clinic", started.token, domain="testserver.local", path="/clinic")
    return started.row.csrf_token


async def _call(key: tuple[str, str], ctx: Ctx, browser: httpx.AsyncClient, csrf: str) -> httpx.Response:
    method, path = key
    row = ROWS[key]
    built = await row.build(ctx) if row.build else {}
    data = built.get("data")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf} if method == "POST" and csrf else {}
    if built.get("sign_in_form"):
        browser.cookies.delete("gd_clinic")
        data = {**data, "csrf_token": csrf_of((await browser.get("/clinic/sign-in")).text)}
        headers = {}
    url = "/clinic" + path.format(participant_id=ctx.target.id, **built)
    return await browser.request(method, url, data=data, headers=headers)


def _expected(row: Row, role: str, htmx: bool) -> int:
    if role in row.expect:
        return row.expect[role]
    if role in row.ok:
        return 200
    if role in ("anonymous", "participant", "guardian"):
        # to the sign-in page: a redirect, or for htmx a 401 whose HX-Redirect loads that page
        return 401 if htmx else 303
    return 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(ROWS), ids=lambda key: f"{key[0]} {key[1]}")
async def test_clinic_route_answers_each_role(
    key: tuple[str, str],
    role: str,
    session: AsyncSession,
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
) -> None:
    world = await build_world(session)
    user = None if role == "anonymous" else world.users[role]
    csrf = await _sign_in_as(role, user, browser, session)
    label = f"{key[0]} /clinic{key[1]} as {role}"
    ctx = Ctx(session=session, api=client, target=world.subject, user=user)
    answer = await _call(key, ctx, browser, csrf)
    htmx = answer.request.headers.get("hx-request") == "true"
    expected = _expected(ROWS[key], role, htmx)
    assert answer.status_code == expected, f"{label}: expected {expected}, got {answer.status_code}"
    if expected == 401 and htmx:
        assert answer.headers["hx-redirect"].startswith("/clinic/sign-in"), label
    if expected == 303:
        location = answer.headers["location"]
        assert location.startswith("/clinic/"), f"{label}: redirected to {location}"
        if role in ("anonymous", "participant", "guardian"):
            assert location.startswith("/clinic/sign-in"), f"{label}: redirected to {location}"
    check_page_hygiene(answer, role, label)

    # a participant's page, or an alert or visit made for the participant: out of scope it is a 404
    scoped = any(name in key[1] for name in ("{participant_id}", "{alert_id}", "{visit_id}"))
    if scoped and role in SCOPE_LIMITED and expected == 200:
        await session.refresh(world.stranger)
        outside = Ctx(session=session, api=client, target=world.stranger, user=user)
        answer = await _call(key, outside, browser, csrf)
        assert answer.status_code == 404, f"{label} on a participant out of scope: got {answer.status_code}"
        check_page_hygiene(answer, role, f"{label} (out of scope)")


async def test_unblinded_roles_do_see_the_arm(
    session: AsyncSession, browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """The blinding check above could pass by accident if arms were never shown: the statistician sees them."""
    world = await build_world(session)
    await signed_in(browser, world.users["statistician"])
    listed = await browser.get("/clinic/participants")
    assert ">Arm<" in listed.text
    page = await browser.get(f"/clinic/participants/{world.subject.id}")
    assert "arm A" in page.text
    assert Role.statistician  # the role the world assigned
