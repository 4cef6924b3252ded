"""The OpenAPI document as generated clients read it: FastAPI's, plus the parts it cannot infer.

Each step takes the generated document and completes it in place; `install` runs them once per process.
Steps: the diary's named per-kind entry schemas (the diary routes read their bodies themselves so that each
batch item is validated on its own), and the 503 every route under /api can answer while the database is down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import retry_after_header

Step = Callable[[dict[str, Any]], None]


def install(app: FastAPI, *steps: Step) -> None:
    """Serve FastAPI's document completed by `steps` (built on first request, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            for step in steps:
                step(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_components(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Add named schemas; a name already taken by a different schema is a bug caught at start-up."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name in components and components[name] != schema:
            raise RuntimeError(f"two different OpenAPI schemas are both named {name}")
        components[name] = schema


def document_service_unavailable(document: dict[str, Any]) -> None:
    """Every /api route answers 503 with Retry-After while the database is unreachable (api/errors.py).

    `ErrorBody` is in the document already: every route declares its other errors with it."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault(
                "503",
                {
                    "description": "the database is not reachable; nothing was saved, retry later",
                    "headers": retry_after_header(),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                },
            )


def document_body_errors(document: dict[str, Any]) -> None:
    """Every operation that takes a JSON body answers 400 `malformed_json` for a body that is not JSON and 415
    for one sent under another media type (api/middleware.py); routes added later get both from here."""
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if not any("json" in media for media in content):
                continue
            responses = operation.setdefault("responses", {})
            malformed = "malformed_json: the body is not valid JSON"
            documented = responses.setdefault("400", {"description": malformed, "content": error_body})
            if "malformed_json" not in documented.get("description", ""):
                # a route's own 400 (a bad cursor, say) is answered too: name both
                documented["description"] = f"{documented.get('description') or 'bad_request'}; {malformed}"
            responses.setdefault(
                "415",
                {
                    "description": "unsupported_media_type: the body is not sent as application/json",
                    "content": error_body,
                },
            )
