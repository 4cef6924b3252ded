"""Every route refuses a query parameter it does not declare, documents 422 and has a short operation id."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.urls import API


def _concrete(path: str) -> str:
    # any value of the right shape: the refusal comes before authentication and before the path is looked up
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "version" else str(uuid.uuid4()), path)


async def test_every_route_answers_422_naming_an_unknown_query_parameter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # FastAPI >= 0.16x keeps included routers as branches of app.routes; iter_route_contexts flattens them
    routes = [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]
    assert len(routes) > 20  # the walk reaches the whole API, not a stub
    for route in routes:
        for method in sorted(set(route.methods) - {"HEAD"}):
            answer = await client.request(method, _concrete(str(route.path)), params={"zz_unknown": "1"})
            assert answer.status_code == 422, (method, route.path, answer.text)
            body = answer.json()
            assert body["error"] == "invalid_input"
            assert [f["path"] for f in body["fields"]] == ["zz_unknown"], (method, route.path)


async def test_declared_query_parameters_still_pass(client: httpx.AsyncClient) -> None:
    # the check must not refuse what a route declares, including parameters of its dependencies
    answer = await client.get(f"{API}/alerts", params={"status": "open", "limit": "5"})
    assert answer.status_code == 401  # past the query check, stopped by sign-in


async def test_the_openapi_document_lists_422_for_every_route(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" in operation["responses"], (method, path)


async def test_every_operation_id_is_short_camel_case_and_unique(client: httpx.AsyncClient) -> None:
    # generated clients name their functions after these: FastAPI's default was up to 90 characters
    document = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]{2,39}", operation_id), operation_id
    assert {
        "listAlerts",
        "acknowledgeAlert",
        "getMe",
        "createToken",
        "listStudies",
        "enrolParticipant",
    } <= set(ids)
