"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import SessionDep
from api.errors import RETRY_AFTER_SECONDS, error_response, responses
from core import migrations

router = APIRouter(tags=["health"])
logger = logging.getLogger("glucodiary.api")


_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class Health(BaseModel):
    status: str


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses=responses(503))
async def ready(session: SessionDep) -> Health | JSONResponse:
    """The database answers and carries the newest migration; otherwise 503."""
    try:
        async with asyncio.timeout(3):
            connection = await session.connection()
            applied = await connection.run_sync(migrations.applied_revisions)
    except Exception as exc:  # any failure to reach the database means "not ready"
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        with contextlib.suppress(Exception):
            await session.rollback()  # the failed connection goes back to the pool, to be discarded
        return error_response(503, "The database is not reachable.", headers=_RETRY)
    expected = migrations.head_revisions()
    if applied != expected:
        return error_response(
            503,
            f"The database schema is at {sorted(applied) or 'nothing'}, expected {sorted(expected)}: "
            "run `glucodiary migrate`.",
            headers=_RETRY,
        )
    return Health(status="ready")
