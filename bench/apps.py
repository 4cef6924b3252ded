"""Reference apps the benchmark compares the service with; they live here only and never ship in the app.

`baseline_app`: FastAPI parsing and validating a small glucose-like JSON body, no database.
`db_limit_app`: the same endpoint plus one asyncpg INSERT per request (the database limit).
`stack_floor_app`: the same INSERT through the service's stack: a SQLAlchemy AsyncSession per request from a
dependency, one transaction (BEGIN, INSERT, COMMIT) on an asyncpg pool of 20. What any endpoint of this
stack that writes in a transaction can reach at best, before any work of its own. Its second endpoint
(CORE_PATH) does the same on a SQLAlchemy Core connection, without the ORM session.
All are served by uvicorn exactly like the real service (see bench/scenarios.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import Depends, FastAPI, Request
from pydantic import AwareDatetime, BaseModel, Field

GLUCOSE_PATH = "/glucose"
CORE_PATH = "/glucose-core"  # stack_floor_app only: the INSERT on a Core connection instead of a session
BENCH_TABLE = "bench_glucose_reading"
# The service's default pool (core.config: pool_size 10, max_overflow 10), so both wait on the same number.
BENCH_TABLE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {BENCH_TABLE} ("
    " id uuid PRIMARY KEY, value double precision NOT NULL, unit text NOT NULL,"
    " occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
)
NAMED_INSERT = f"INSERT INTO {BENCH_TABLE} (id, value, unit, occurred_at) VALUES (:id, :value, :unit, :at)"
POOL_MIN_SIZE = 10
POOL_MAX_SIZE = 20


class GlucoseReading(BaseModel):
    id: UUID
    value: float = Field(gt=0, lt=2000)
    unit: Literal["mg/dL", "mmol/L"]
    occurred_at: AwareDatetime


baseline_app = FastAPI(title="bench baseline", docs_url=None, redoc_url=None, openapi_url=None)


@baseline_app.post(GLUCOSE_PATH, status_code=201)
async def record_glucose(glucose_reading: GlucoseReading) -> GlucoseReading:
    return glucose_reading


@asynccontextmanager
async def _pool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_DB_DSN"]
    pool = await asyncpg.create_pool(dsn, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE)
    async with pool.acquire() as connection:
        await connection.execute(BENCH_TABLE_DDL)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


db_limit_app = FastAPI(
    title="bench db_limit", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_pool_lifespan
)


@db_limit_app.post(GLUCOSE_PATH, status_code=201)
async def record_glucose_in_db(glucose_reading: GlucoseReading, request: Request) -> GlucoseReading:
    await request.app.state.pool.execute(
        f"INSERT INTO {BENCH_TABLE} (id, value, unit, occurred_at) VALUES ($1, $2, $3, $4)",
        glucose_reading.id,
        glucose_reading.value,
        glucose_reading.unit,
        glucose_reading.occurred_at,
    )
    return glucose_reading


# ---- the stack's floor -------------------------------------------------------------------------------------
def _floor_engine() -> Any:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = os.environ["BENCH_DB_DSN"].replace("postgresql://", "postgresql+asyncpg://", 1)
    # as the diary scenarios' server: pool held at 20, no pre-ping (core/db.py)
    return create_async_engine(url, pool_size=20, max_overflow=0, pool_pre_ping=False)


@asynccontextmanager
async def _floor_lifespan(app: FastAPI) -> AsyncIterator[None]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = _floor_engine()
    async with engine.begin() as connection:
        await connection.execute(text(BENCH_TABLE_DDL))
    app.state.engine = engine
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    try:
        yield
    finally:
        await engine.dispose()


def _named(reading: GlucoseReading) -> dict[str, Any]:
    return {"id": reading.id, "value": reading.value, "unit": reading.unit, "at": reading.occurred_at}


async def _floor_session(request: Request) -> AsyncIterator[Any]:
    session = request.app.state.sessions()
    try:
        yield session
        await session.commit()
    finally:
        await session.close()


stack_floor_app = FastAPI(
    title="bench stack floor", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_floor_lifespan
)


@stack_floor_app.post(CORE_PATH, status_code=201)
async def record_glucose_through_core(glucose_reading: GlucoseReading, request: Request) -> GlucoseReading:
    """The same INSERT on a SQLAlchemy Core connection (no ORM session): BEGIN, INSERT, COMMIT."""
    from sqlalchemy import text

    async with request.app.state.engine.begin() as connection:
        await connection.execute(
            text(NAMED_INSERT),
            _named(glucose_reading),
        )
    return glucose_reading


@stack_floor_app.post(GLUCOSE_PATH, status_code=201)
async def record_glucose_through_the_stack(
    glucose_reading: GlucoseReading, session: Annotated[Any, Depends(_floor_session, scope="function")]
) -> GlucoseReading:
    from sqlalchemy import text

    await session.execute(
        text(NAMED_INSERT),
        _named(glucose_reading),
    )
    return glucose_reading
