"""create_app(): the FastAPI application with routers, error handlers, middleware and self-hosted docs."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import errors, openapi
from api.clinic.app import create_clinic_app
from api.deps import reject_unknown_query
from api.middleware import RequestIdFilter, ServiceMiddleware
from api.routers import (
    alerts,
    auth,
    diary,
    episodes,
    exports,
    health,
    invitations,
    notifications,
    participants,
    reports,
    studies,
    visits,
)
from api.schemas.diary import add_entry_schemas
from core import background
from core.config import get_settings
from core.db import database

API_PREFIX = "/api/v1"


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level.upper())
    # the readiness probe inspects the schema on every call; Alembic's INFO lines would flood the log
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Everything built at start-up lives as long as the process: take it out of the collector's full passes.
    # Without this, each collection of the oldest generation walked the whole start-up heap and stalled the
    # event loop for 55-77 ms, which every request waiting behind it felt: the clinic participant page at
    # 20 req/s had p99 128.9 ms and 2 of 1,800 requests failed; with it, p99 26.2 ms and none (bench/clinic.py,
    # quiet machine; README, Performance).
    gc.collect()
    gc.freeze()
    # `make run`: the scheduler and the dispatcher run as tasks of this process (core/background.py);
    # in production each runs as its own process (`glucodiary scheduler`, `glucodiary dispatcher`)
    stop = asyncio.Event()
    services = (
        asyncio.create_task(background.run_embedded(stop)) if get_settings().background.in_api else None
    )
    try:
        yield
    finally:
        stop.set()
        if services is not None:
            await services
        await database.dispose()


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operationId when it names none: its function's name in camelCase (`list_entries` ->
    `listEntries`), never FastAPI's default of name, path and method (up to 90 characters, which generated
    clients turn into function names). Routes should still name theirs (`operation_id=`)."""
    first, *rest = route.name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Glucodiary",
        version="1",
        summary="Diary service for clinical trials in newly diagnosed type 1 diabetes.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        # every route answers 422 for a query parameter it does not declare (api/deps.py says why)
        dependencies=[Depends(reject_unknown_query)],
        responses=errors.responses(422),
        generate_unique_id_function=operation_id,
    )
    errors.install(app)
    app.include_router(health.router)
    for router in (auth.router, studies.router, participants.router, invitations.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(alerts.router, prefix=API_PREFIX)
    app.include_router(diary.router, prefix=API_PREFIX)
    app.include_router(visits.router, prefix=API_PREFIX)
    app.include_router(episodes.router, prefix=API_PREFIX)
    app.include_router(notifications.router, prefix=API_PREFIX)
    for router in (reports.router, reports.snapshots_router, exports.router, exports.study_router):
        app.include_router(router, prefix=API_PREFIX)
    _mount_docs(app)
    app.mount("/clinic", create_clinic_app(app))  # the staff dashboard: HTML pages, its own error pages
    openapi.install(
        app, add_entry_schemas, openapi.document_service_unavailable, openapi.document_body_errors
    )
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.http.max_body_bytes,
        hsts_seconds=settings.http.hsts_seconds,
    )
    if settings.http.trusted_proxies:
        # outermost: the client address behind a trusted proxy is the right-most untrusted X-Forwarded-For entry
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.http.trusted_proxies)
    return app


def _mount_docs(app: FastAPI) -> None:
    # Hospital networks often have no internet: serve Swagger UI's files ourselves.
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Glucodiary API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
