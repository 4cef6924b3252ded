"""The HTTP edges every route shares (issue 13): a JSON route takes only JSON (415 otherwise, nothing stored),
a 405 lists every method of the path in Allow, and the OpenAPI document names the 400 and 415 answers of every
operation that takes a body."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.types import Message

from core.models.diary import DiaryEntry
from tests import factories
from tests.factories import entries_path, entry_body
from tests.urls import API


async def _participant(session: AsyncSession) -> tuple[Any, dict[str, str]]:
    study = await factories.create_study(session)
    participant = await factories.create_participant(session, study)
    return participant, factories.auth_headers(await factories.participant_user(session, participant))


@pytest.mark.parametrize(
    "content_type", ["text/plain", None, "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_json_body_under_another_content_type_is_a_415_and_not_stored(
    content_type: str | None, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    participant, headers = await _participant(session)
    body = entry_body()
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    answer = await client.post(entries_path(participant), content=json.dumps(body), headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"] == "unsupported_media_type"
    assert "application/json" in answer.json()["detail"]
    assert (content_type or "no Content-Type") in answer.json()["detail"]
    stored = await session.execute(select(DiaryEntry).where(col(DiaryEntry.participant_id) == participant.id))
    assert stored.first() is None


async def test_a_form_body_on_a_json_route_says_json_is_expected(client: httpx.AsyncClient) -> None:
    answer = await client.post(f"{API}/auth/refresh", data={"refresh_token": "abc"})
    assert answer.status_code == 415
    assert "takes JSON" in answer.json()["detail"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
async def test_json_media_types_are_accepted(
    content_type: str, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    participant, headers = await _participant(session)
    answer = await client.post(
        entries_path(participant),
        content=json.dumps(entry_body()),
        headers={**headers, "Content-Type": content_type},
    )
    assert answer.status_code == 201, answer.text


async def test_the_login_form_still_takes_a_form(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await factories.create_user(session, email="form@example.org")
    form = {"username": "form@example.org", "password": factories.DEFAULT_PASSWORD}
    assert (await client.post(f"{API}/auth/token", data=form)).status_code == 200


async def test_a_bodyless_post_needs_no_content_type(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # POST /auth/logout takes no body: a client that sends none declares no type, and is answered
    user = await factories.create_user(session)
    answer = await client.post(f"{API}/auth/logout", headers=factories.auth_headers(user))
    assert answer.status_code == 204, answer.text


async def test_a_405_lists_every_method_of_the_path(session: AsyncSession, client: httpx.AsyncClient) -> None:
    participant, headers = await _participant(session)
    path = entries_path(participant, str(factories.entry_body()["id"]))
    answer = await client.put(path, json={}, headers=headers)
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed and "PUT" not in allowed
    collection = await client.put(entries_path(participant), json={}, headers=headers)
    assert {"GET", "POST"} <= {m.strip() for m in collection.headers["Allow"].split(",")}


def test_every_operation_with_a_body_documents_400_and_415(app: FastAPI) -> None:
    document = app.openapi()
    with_body = [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) >= 10
    for method, path, operation in with_body:
        responses = operation["responses"]
        takes_json = any("json" in media for media in operation["requestBody"]["content"])
        if takes_json:
            assert "400" in responses, f"{method} {path} does not document malformed_json"
            assert "malformed_json" in responses["400"]["description"]
            assert "415" in responses, f"{method} {path} does not document 415"
        for status in ("400", "415"):
            if status in responses:
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


class Thing(BaseModel):
    name: str


def test_a_route_added_later_is_documented_too(app: FastAPI) -> None:
    @app.post(f"{API}/_later", operation_id="addLater")
    async def later(body: Thing) -> Thing:
        return body

    app.openapi_schema = None
    operation = app.openapi()["paths"][f"{API}/_later"]["post"]
    assert {"400", "415"} <= set(operation["responses"])


async def test_a_caller_hanging_up_mid_body_is_logged_as_gone_not_as_our_fault(
    session: AsyncSession, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    # a phone losing signal mid-upload: the first half of the body arrives, then the connection drops
    participant, headers = await _participant(session)
    body = json.dumps(entry_body()).encode()
    parts: list[Message] = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": entries_path(participant),
        "raw_path": entries_path(participant).encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            *raw_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"host", b"testserver"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.INFO, logger="glucodiary.api"):
        await app(scope, receive, send)

    assert not [m for m in sent if m["type"] == "http.response.start" and m["status"] >= 500]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    assert any(" 499 " in r.getMessage() for r in caplog.records)  # the access line: gone, not a 500
    stored = await session.execute(select(DiaryEntry).where(col(DiaryEntry.participant_id) == participant.id))
    assert stored.first() is None


async def test_a_missing_file_of_ours_is_a_500_not_a_database_outage(app: FastAPI) -> None:
    # jinja2's TemplateNotFound is an OSError, like a socket failure: it was answered 503 "the database is not
    # reachable, retry", which sends a phone into retries and an operator to the wrong place
    from jinja2 import TemplateNotFound

    @app.get(f"{API}/_missing_template", operation_id="missingTemplate")
    async def missing_template() -> None:
        raise TemplateNotFound("clinic/gone.html")

    @app.get(f"{API}/_missing_file", operation_id="missingFile")
    async def missing_file() -> None:
        open("/nonexistent/glucodiary/file")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ("_missing_template", "_missing_file"):
            answer = await client.get(f"{API}/{path}")
            assert answer.status_code == 500, (path, answer.status_code, answer.text)
            assert "Retry-After" not in answer.headers
