"""Maps domain, validation, HTTP and unexpected errors to one JSON error body with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.middleware import internal_error_detail, request_id_var
from core import errors
from core.db import DRIVER_ERRORS, DatabaseFault, classify_error
from core.text import NUL_MESSAGE

logger = logging.getLogger("glucodiary.api")

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.InvalidInput: 422,
    errors.Throttled: 429,
    errors.Unavailable: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class FieldErrorBody(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    """The one error shape of every answer that is not a success."""

    error: str
    detail: str
    fields: list[FieldErrorBody] | None = None


# What each kind of database failure tells the caller (core.db.classify_error decides the kind).
RETRY_AFTER_SECONDS = 5
_FAULT_ANSWERS: dict[DatabaseFault, tuple[int, str, str]] = {
    DatabaseFault.OUTAGE: (
        503,
        "service_unavailable",
        "The database is not reachable right now; nothing was saved. Please retry shortly.",
    ),
    DatabaseFault.SCHEMA_MISSING: (
        503,
        "service_unavailable",
        "The database is not set up yet (its migrations have not run); nothing was saved. Please retry shortly.",
    ),
    DatabaseFault.NUL_IN_TEXT: (
        422,
        "invalid_input",
        f"Text in the request {NUL_MESSAGE}; nothing was saved.",
    ),
}


def error_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code or HTTP_CODES.get(status, "error"), "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers=headers)


def retry_after_header() -> dict[str, Any]:
    return {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        }
    }


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed status documented with the error body (and `Retry-After` where the
    answer carries it)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        documented[status] = {"model": ErrorBody, "description": HTTP_CODES.get(status, "error")}
        if status in (429, 503):
            documented[status]["headers"] = retry_after_header()
    return documented


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _validation_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        # discriminated unions add the tag as a path element; it is noise to a reader
        path = ".".join(loc) or "body"
        message = err.get("msg", "invalid")
        if err.get("type") == "missing":
            message = "field required"
        elif err.get("type") == "extra_forbidden":
            message = f"unknown field (got {_short(err.get('input'))})"
        elif "input" in err and err.get("type") not in ("json_invalid",):
            message = f"{message} (got {_short(err.get('input'))})"
        fields.append({"path": path, "message": message})
    return fields


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    path = request.scope["path"]
    return sorted(
        {
            method
            for context in iter_route_contexts(request.app.routes)
            if context.methods and context.path_regex.match(path)
            for method in context.methods
        }
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(_request: Request, exc: errors.DomainError) -> JSONResponse:
        status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        headers = None
        if isinstance(exc, errors.Throttled):
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        if isinstance(exc, errors.NotAuthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        fields = [{"path": f.path, "message": f.message} for f in exc.fields] or None
        return error_response(status, exc.detail, code=exc.code, fields=fields, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _validation_fields(exc)
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return error_response(
                400, "The request body is not valid JSON.", code="malformed_json", fields=fields
            )
        summary = "; ".join(f"{f['path']}: {f['message']}" for f in fields[:3])
        return error_response(422, f"The request is not valid: {summary}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTP_CODES.get(exc.status_code, "error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Nothing is at {request.url.path}."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # the router names the methods of the first route whose path matched; a path served by several
            # routes (GET, PATCH and DELETE of one entry) has them all
            allowed = ", ".join(allowed_methods(request))
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}."
            headers = {**(headers or {}), "Allow": allowed}
        return error_response(exc.status_code, detail, headers=headers)

    async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
        fault = classify_error(exc)
        if fault is None:
            # the database refused a statement (a bug of ours): retrying cannot help
            logger.error("the database refused a statement", exc_info=exc)
            return error_response(500, internal_error_detail(request_id_var.get()))
        # the driver's own message (no SQL, no parameters: they may hold health data) tells a lock timeout
        # or a lost connection from a missing table
        cause = getattr(exc, "orig", None) or exc
        logger.error(
            "database %s: %s: %.200s",
            fault.value,
            type(exc).__name__,
            str(cause).splitlines()[0] if str(cause) else "",
        )
        status, code, detail = _FAULT_ANSWERS[fault]
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
        return error_response(status, detail, code=code, headers=headers)

    for error_type in DRIVER_ERRORS:
        app.add_exception_handler(error_type, _database_error)
