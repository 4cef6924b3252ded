"""Reference apps the benchmark compares the service with; they live here only and never ship in the app.

`baseline_app`: FastAPI parsing and validating a small glucose-like JSON body, no database.
`db_limit_app`: the same endpoint plus one asyncpg INSERT per request (the database limit).
Both are served by uvicorn exactly like the real service (see bench/scenarios.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal
from uuid import UUID

import asyncpg
from fastapi import FastAPI, Request
from pydantic import AwareDatetime, BaseModel, Field

GLUCOSE_PATH = "/glucose"
BENCH_TABLE = "bench_glucose_reading"
# The service's default pool (core.config: pool_size 10, max_overflow 10), so both wait on the same number.
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
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {BENCH_TABLE} ("
            " id uuid PRIMARY KEY, value double precision NOT NULL, unit text NOT NULL,"
            " occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
        )
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
