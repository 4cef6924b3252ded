"""Every API route, called by every role: success or exactly the documented refusal (rules in route_rules)."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession

from api.main import create_app
from core.models.people import Role
from tests import factories
from tests.api.route_rules import (
    ANONYMOUS,
    RULES,
    SCOPE_LIMITED,
    UNBLINDED,
    Call,
    Ctx,
    Rule,
    World,
)
from tests.urls import API

ARM_KEYS = {"arm", "arm_id", "arm_code", "arms"}


def _api_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    # FastAPI >= 0.16x keeps included routers as branches of app.routes; iter_route_contexts flattens them
    for route in iter_route_contexts(app.routes):
        path, methods = route.path, route.methods
        if path and path.startswith(f"{API}") and methods:
            found.update((method, path) for method in methods if method != "HEAD")
    return found


def test_every_api_route_has_a_rule() -> None:
    routes = _api_routes(create_app())
    missing = sorted(routes - RULES.keys())
    stale = sorted(RULES.keys() - routes)
    assert not missing, f"routes without a rule in tests/api/route_rules.py: {missing}"
    assert not stale, f"rules for routes that do not exist: {stale}"


async def build_world(session: AsyncSession) -> World:
    study = await factories.create_study(session, blinded=True)
    subject = await factories.create_participant(session, study, site_code="S1", arm_code="A")
    stranger = await factories.create_participant(session, study, site_code="S2", arm_code="B")
    users = {
        "participant": await factories.participant_user(session, subject),
        "guardian": await factories.create_guardian(session, subject),
        "clinician": await factories.create_staff(session, study, Role.clinician, site_codes=("S1",)),
        "coordinator": await factories.create_staff(session, study, Role.coordinator, site_codes=("S1",)),
        "statistician": await factories.create_staff(session, study, Role.statistician, site_codes=None),
        "admin": await factories.create_user(session, role=Role.admin),
    }
    stranger_guardian = await factories.create_guardian(session, stranger, relationship="father")
    return World(
        study=study, subject=subject, stranger=stranger, stranger_guardian=stranger_guardian, users=users
    )


async def _reload(session: AsyncSession, world: World) -> None:
    for loaded in (
        world.study,
        world.subject,
        world.stranger,
        world.stranger_guardian,
        *world.users.values(),
    ):
        await session.refresh(loaded)


def _arm_keys(document: Any) -> set[str]:
    if isinstance(document, dict):
        found = ARM_KEYS & document.keys()
        for value in document.values():
            found |= _arm_keys(value)
        return found
    if isinstance(document, list):
        found = set()
        for value in document:
            found |= _arm_keys(value)
        return found
    return set()


async def _call(rule: Rule, ctx: Ctx) -> httpx.Response:
    made = rule.build(ctx)
    call: Call = await made if inspect.isawaitable(made) else made  # type: ignore[assignment]
    params = {"participant_id": str(ctx.target.id), "study_id": str(ctx.world.study.id), **call.path_params}
    url = rule.path.format(**params)
    headers = dict(call.headers)
    if ctx.user is not None and "Authorization" not in headers:
        headers.update(factories.auth_headers(ctx.user))
    return await ctx.client.request(
        rule.method, url, json=call.json, data=call.data, params=call.params, headers=headers
    )


def _check(rule: Rule, role: str, response: httpx.Response, expected: int | None, where: str) -> None:
    label = f"{rule.method} {rule.path} as {role} ({where})"
    if expected is None:
        assert 200 <= response.status_code < 300, f"{label}: expected 2xx, got {response.text}"
        if role not in UNBLINDED and response.headers.get("content-type", "").startswith("application/json"):
            leaked = _arm_keys(response.json())
            assert not leaked, f"{label}: a blinded role sees {leaked}"
    else:
        assert response.status_code == expected, f"{label}: expected {expected}, got {response.text}"


@pytest.mark.parametrize(
    "role", ["participant", "guardian", "clinician", "coordinator", "statistician", "admin", "anonymous"]
)
@pytest.mark.parametrize("key", sorted(RULES), ids=lambda key: f"{key[0]} {key[1]}")
async def test_route_answers_each_role_as_documented(
    key: tuple[str, str], role: str, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    rule = RULES[key]
    world = await build_world(session)
    user = None if role == ANONYMOUS else world.users[role]
    ctx = Ctx(world=world, target=world.subject, role=role, user=user, session=session, client=client)
    expected = rule.expected(role)
    _check(rule, role, await _call(rule, ctx), expected, "in scope")

    if "{participant_id}" in rule.path and role in SCOPE_LIMITED:
        await _reload(session, world)  # a refused request rolled back, which expires loaded objects
        outside = Ctx(
            world=world, target=world.stranger, role=role, user=user, session=session, client=client
        )
        response = await _call(rule, outside)
        label = f"{rule.method} {rule.path} as {role} (participant out of scope)"
        if expected is None:
            assert response.status_code == 404, f"{label}: expected 404, got {response.text}"
        else:
            allowed = {expected, 404} if expected == 403 else {expected}
            assert response.status_code in allowed, f"{label}: expected {allowed}, got {response.text}"
