"""Test harness: a migrated throwaway database per run, one rolled-back transaction per test, a movable clock.

The backend comes from GLUCODIARY_TEST_BACKEND (sqlite, the default, or postgres). The PostgreSQL leg creates
and drops its own database on the server at GLUCODIARY_TEST_PG_URL; with CI=true it must run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="glucodiary-test-"))
os.environ.setdefault("GLUCODIARY_ENV", "test")
os.environ["GLUCODIARY_DATA_DIR"] = str(_TMP)
# Argon2 at test cost: hashing stays real, only cheaper (production defaults are untouched).
os.environ.setdefault("GLUCODIARY_SECURITY__ARGON2_TIME_COST", "1")
os.environ.setdefault("GLUCODIARY_SECURITY__ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("GLUCODIARY_SECURITY__ARGON2_PARALLELISM", "1")
os.environ.setdefault("GLUCODIARY_LOG_LEVEL", "WARNING")

import httpx  # noqa: E402
import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine  # noqa: E402

from api.deps import get_session, get_stream_session  # noqa: E402
from api.main import create_app  # noqa: E402
from core import clock, migrations  # noqa: E402
from core.db import build_engine, database, metadata  # noqa: E402
from core.errors import DomainError  # noqa: E402
from tests import answers  # noqa: E402

BACKEND = os.environ.get("GLUCODIARY_TEST_BACKEND", "sqlite")
PG_SERVER_URL = os.environ.get(
    "GLUCODIARY_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header() -> str:
    return f"glucodiary test backend: {BACKEND}"


async def _pg_admin(statement: str) -> None:
    engine = create_async_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 3})
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_database(name_hint: str = "run") -> str:
    """A new empty database for this run: a PostgreSQL database or a SQLite file."""
    suffix = f"{name_hint}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if BACKEND == "sqlite":
        return f"sqlite+aiosqlite:///{_TMP / f'{suffix}.db'}"
    name = f"glucodiary_test_{suffix}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # the server is down or refuses us
        message = f"PostgreSQL at {PG_SERVER_URL} is not reachable ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.exit(f"{message}; CI requires the PostgreSQL leg.", returncode=3)
        pytest.exit(f"{message}; PostgreSQL leg skipped (set CI=true to require it).", returncode=0)
    return PG_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    if BACKEND == "sqlite":
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
        return
    name = url.rsplit("/", 1)[1]
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database()
    migrations.upgrade(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url)
    database.use(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One outer transaction per test, rolled back at the end whatever the app committed."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    session = AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )
    yield session
    await session.close()


@pytest.fixture
def app(session: AsyncSession) -> FastAPI:
    app = create_app()

    async def _test_session() -> AsyncIterator[AsyncSession]:
        # the app's commit becomes a savepoint release inside the test's outer transaction. The request runs in
        # its own nested transaction, so a request that fails rolls back (and expires) only what it did: the
        # test's set-up and the objects it holds survive a refused request.
        await session.commit()
        request = await session.begin_nested()
        try:
            yield session
            await request.commit()
            await session.commit()
        except BaseException as exc:
            if isinstance(exc, DomainError) and exc.keep_changes:
                await request.commit()
                await session.commit()
            else:
                await request.rollback()
            raise

    async def _test_stream_session() -> AsyncIterator[AsyncSession]:
        # a streamed answer (CSV) reads after the route returned: inside the test's transaction as well
        yield session

    app.dependency_overrides[get_session] = _test_session
    app.dependency_overrides[get_stream_session] = _test_stream_session
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    hooks = {"response": [answers.hook(app)]}  # every answer as /openapi.json declares it
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as client:
        yield client


@pytest.fixture
async def committing_app(engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """The app with real, committing sessions (for concurrency tests); every table is emptied afterwards."""
    yield create_app()
    async with engine.begin() as connection:
        # the append-only triggers (alembic 0007, 0008) refuse these deletes: only the test database's
        # cleanup lifts them, for its own transaction (PostgreSQL: a superuser's session_replication_role;
        # SQLite: the triggers dropped and created again, DDL being transactional there)
        triggers = []
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            found = await connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            )
            triggers = list(found.all())
            for name, _sql in triggers:
                await connection.execute(text(f'DROP TRIGGER "{name}"'))
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
        for _name, sql in triggers:
            await connection.execute(text(sql))


@pytest.fixture
async def committing_client(committing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=committing_app)
    hooks = {"response": [answers.hook(committing_app)]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Every test starts with the real clock and leaves it released."""
    yield
    clock.set_now(None)
