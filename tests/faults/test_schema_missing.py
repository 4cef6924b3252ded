"""A database whose migrations have not run (all or some): readiness and every request answer 503 with
Retry-After, never a 500, until `glucodiary migrate` has run (issue 13)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from core import migrations
from core.db import DatabaseFault, build_engine, classify_error, database
from tests import factories
from tests.conftest import BACKEND, create_database, drop_database
from tests.urls import API


@pytest.fixture
def empty_url() -> Iterator[str]:
    url = create_database("unmigrated")
    yield url
    drop_database(url)


@pytest.fixture
async def empty_client(empty_url: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    # the app's own sessions (no test transaction) against the empty database; the migrated engine comes back
    unmigrated = build_engine(empty_url)
    database.use(unmigrated)
    try:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await unmigrated.dispose()
        database.use(engine)


def _is_retry_later(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "service_unavailable"
    assert int(answer.headers["Retry-After"]) > 0


async def test_readiness_on_an_unmigrated_database_is_503_with_retry_after(
    empty_client: httpx.AsyncClient,
) -> None:
    answer = await empty_client.get("/ready")
    _is_retry_later(answer)
    assert "glucodiary migrate" in answer.json()["detail"]


async def test_login_and_reads_on_an_unmigrated_database_are_503_with_retry_after(
    empty_client: httpx.AsyncClient,
) -> None:
    form = {"username": "nobody@example.org", "password": factories.DEFAULT_PASSWORD}
    login = await empty_client.post(f"{API}/auth/token", data=form)
    _is_retry_later(login)
    assert "migrations" in login.json()["detail"]
    me = await empty_client.get(f"{API}/me", headers={"Authorization": "Bearer x.y.z"})
    assert me.status_code == 401  # a token that cannot be valid is refused before the database is asked
    assert (await empty_client.get("/health")).status_code == 200  # alive, only not ready


async def test_readiness_on_a_database_behind_head_is_503_naming_where_it_stands(
    empty_url: str, empty_client: httpx.AsyncClient
) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_url, "0005_rules")  # Alembic runs its own loop
    answer = await empty_client.get("/ready")
    _is_retry_later(answer)
    assert "0005_rules" in answer.json()["detail"]


async def test_the_database_layer_names_a_missing_table(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(Exception) as caught:
            await connection.execute(text("SELECT 1 FROM no_such_table_here"))
    assert classify_error(caught.value) is DatabaseFault.SCHEMA_MISSING


@pytest.mark.skipif(BACKEND != "postgres", reason="only PostgreSQL refuses NUL in text")
@pytest.mark.parametrize(
    "statement", ["SELECT CAST(:value AS text)", "SELECT CAST(CAST(:value AS text) AS jsonb)"]
)
async def test_the_database_layer_names_nul_in_text(engine: AsyncEngine, statement: str) -> None:
    # the last line of defence behind core.text.SafeText: any field still typed `str` is a 422, not a 500
    value = "a\x00b" if "jsonb" not in statement else '{"note": "a\\u0000b"}'
    async with engine.connect() as connection:
        with pytest.raises(Exception) as caught:
            await connection.execute(text(statement), {"value": value})
    assert classify_error(caught.value) is DatabaseFault.NUL_IN_TEXT
