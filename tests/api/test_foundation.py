"""The foundation's HTTP behaviour: probes, one error shape, security headers, body limits, docs offline."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.deps import SessionDep
from tests.urls import API


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_is_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


async def test_unknown_path_has_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"Nothing is at {API}/no-such-thing."}


async def test_wrong_method_has_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def _echo_route(app: FastAPI) -> None:
    from pydantic import BaseModel, ConfigDict, Field

    class Reading(BaseModel):
        model_config = ConfigDict(extra="forbid")
        value: float = Field(ge=10, le=600)
        unit: str

    @app.post(f"{API}/_echo")
    async def echo(reading: Reading) -> Reading:
        return reading

    @app.get(f"{API}/_boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.get(f"{API}/_db")
    async def db_probe(session: SessionDep) -> dict[str, int]:
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}


async def test_validation_error_names_field_value_and_rule(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)
    response = await client.post(f"{API}/_echo", json={"value": 700, "unit": "mg/dL", "colour": "red"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    by_path = {f["path"]: f["message"] for f in body["fields"]}
    assert "less than or equal to 600" in by_path["value"] and "700" in by_path["value"]
    assert "unknown field" in by_path["colour"]


async def test_malformed_json_is_a_400_not_a_500(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)
    response = await client.post(
        f"{API}/_echo", content=b'{"value": 12,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


async def test_wrong_content_type_is_a_4xx(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)
    response = await client.post(f"{API}/_echo", content=b"value=12", headers={"content-type": "text/plain"})
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


async def test_body_over_one_mebibyte_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)
    big = b'{"value": 12, "unit": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post(f"{API}/_echo", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_chunked_body_over_the_limit_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)

    async def chunks():  # no Content-Length: the limit must hold while streaming
        yield b'{"value": 12, "unit": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    response = await client.post(
        f"{API}/_echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_unexpected_error_is_a_500_without_traceback(app: FastAPI) -> None:
    _echo_route(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(f"{API}/_boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] in body["detail"]


@pytest.mark.parametrize(
    ("message", "status", "error"),
    [
        ("database is locked", 503, "service_unavailable"),  # busy past the timeout: retry later
        ("unable to open database file", 503, "service_unavailable"),
        ("Expression tree is too large (maximum depth 1000)", 500, "internal_error"),  # our bug
    ],
)
async def test_a_sqlite_outage_is_a_503_and_a_refused_statement_a_500(
    app: FastAPI, message: str, status: int, error: str
) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    @app.get(f"{API}/_sqlite")
    async def sqlite_fails() -> None:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(f"{API}/_sqlite")
    assert (response.status_code, response.json()["error"]) == (status, error)
    if status == 500:
        assert response.headers["x-request-id"] in response.json()["detail"]


async def test_security_headers_and_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/anything", headers={"X-Request-ID": "phone-req-12345"})
    headers = response.headers
    assert headers["x-request-id"] == "phone-req-12345"
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["cache-control"] == "no-store"
    assert "server" not in headers


async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\r\ninjected"})
    assert response.headers["x-request-id"] != "bad id\r\ninjected"
    assert len(response.headers["x-request-id"]) == 32


async def test_docs_are_served_without_outside_requests(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert (
        "cdn." not in page.text
        and "https://" not in page.text.split("<body>")[1].split("SwaggerUIBundle(")[0]
    )
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in page.text
        assert (await client.get(asset)).status_code == 200
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Glucodiary"


async def test_cors_allows_only_listed_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.main import create_app
    from core.config import get_settings

    monkeypatch.setenv("GLUCODIARY_HTTP__CORS_ORIGINS", '["https://dashboard.example.org"]')
    get_settings.cache_clear()
    try:
        app = create_app()
    finally:
        monkeypatch.delenv("GLUCODIARY_HTTP__CORS_ORIGINS")
        get_settings.cache_clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        preflight = {"Access-Control-Request-Method": "GET"}
        allowed = await client.options(
            "/health", headers={"Origin": "https://dashboard.example.org", **preflight}
        )
        refused = await client.options("/health", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.headers.get("access-control-allow-origin") == "https://dashboard.example.org"
    assert "access-control-allow-origin" not in refused.headers


async def test_database_route_commits_through_session(app: FastAPI, client: httpx.AsyncClient) -> None:
    _echo_route(app)
    response = await client.get(f"{API}/_db")
    assert response.json() == {"one": 1}
