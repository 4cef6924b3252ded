"""One pure-ASGI middleware: request id, security headers, body size limit and last-resort 500s."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import params
from fastapi.routing import iter_route_contexts
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.text import NUL, NUL_MESSAGE

logger = logging.getLogger("glucodiary.api")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def internal_error_detail(request_id: str) -> str:
    """What a 500 says: nothing of the fault itself, the request id to quote."""
    return f"Something went wrong on our side. Quote request id {request_id} to support."


CLIENT_CLOSED_REQUEST = 499  # logged only: the caller is gone, nothing is sent
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record (`%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class BodyTooLarge(BaseException):
    """Raised from receive(); a BaseException so body parsers that catch Exception cannot swallow it."""


def _error_body(status: int, code: str, detail: str, fields: list[dict[str, str]] | None = None) -> bytes:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return json.dumps(body).encode()


def _nul_parameter(query_string: bytes) -> str | None:
    """The name of the first query parameter holding a NUL character, if any.

    Checked here, once, for every route: PostgreSQL cannot compare or store a NUL (it was a 500), and a route's
    own parameter types know nothing of it. Most queries have no `%00` and cost one bytes search.
    """
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return name.replace(NUL, "\\u0000")
    return None


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_MEDIA = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")


def _media_type(headers: dict[bytes, bytes]) -> str:
    return headers.get(b"content-type", b"").decode("latin-1").partition(";")[0].strip().lower()


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return (length is not None and length.strip() not in (b"", b"0")) or b"transfer-encoding" in headers


def _form_paths(app: Any) -> list[re.Pattern[str]]:
    """The paths of the routes that take a form (the OAuth2 password login); every other body is JSON."""
    return [
        context.path_regex
        for context in iter_route_contexts(getattr(app, "routes", []))
        if isinstance(getattr(getattr(context, "body_field", None), "field_info", None), params.Form)
    ]


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, hsts_seconds: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.security_headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"frame-ancestors 'none'"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        self._form_paths: list[re.Pattern[str]] | None = None  # found on the first request (routes are known)
        if hsts_seconds:
            self.security_headers.append(
                (b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode())
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        is_api = path.startswith("/api/")
        started = time.perf_counter()
        response_started = False
        status_code = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status_code
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                out = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                out.append((b"x-request-id", request_id.encode()))
                out.extend(self.security_headers)
                if is_api and not any(k.lower() == b"cache-control" for k, _ in out):
                    out.append((b"cache-control", b"no-store"))
                message["headers"] = out
            await send(message)

        declared = headers.get(b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._reply(send_with_headers, 413, "payload_too_large", self._too_large())
                return
            refused_parameter = _nul_parameter(scope.get("query_string", b""))
            if refused_parameter is not None:
                path_name = f"query.{refused_parameter}"
                await self._reply(
                    send_with_headers,
                    422,
                    "invalid_input",
                    f"The request is not valid: {path_name}: {NUL_MESSAGE}",
                    fields=[{"path": path_name, "message": NUL_MESSAGE}],
                )
                return
            if is_api and scope["method"] in _BODY_METHODS and _has_body(headers):
                refused_media = self._refused_media(scope, headers)
                if refused_media is not None:
                    await self._reply(
                        send_with_headers,
                        415,
                        "unsupported_media_type",
                        f"This endpoint takes JSON: send the body with Content-Type: application/json "
                        f"(got {refused_media}).",
                    )
                    return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise BodyTooLarge
                return message

            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not response_started:
                await self._reply(send_with_headers, 413, "payload_too_large", self._too_large())
        except ClientDisconnect:
            # The caller hung up before its body arrived (a phone losing signal mid-upload): nothing was read, so
            # nothing was stored, and there is no one left to answer. Logged as 499 (nginx's "client closed
            # request"), not as a fault of ours.
            status_code = CLIENT_CLOSED_REQUEST
            logger.info("client disconnected during %s %s; nothing stored", scope["method"], path)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], path)
            if not response_started:
                await self._reply(send_with_headers, 500, "internal_error", internal_error_detail(request_id))
        finally:
            logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                path,
                status_code,
                (time.perf_counter() - started) * 1000,
            )
            request_id_var.reset(token)

    def _refused_media(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """The body's media type (or "no Content-Type") when a JSON route is sent something else; else None.

        Checked here for every route at once: the diary reads its bodies itself (each batch item validated on
        its own), and it took a JSON text sent as text/plain, or with no type, as JSON and stored it."""
        media = _media_type(headers)
        if _JSON_MEDIA.match(media):
            return None
        if self._form_paths is None:
            self._form_paths = _form_paths(scope.get("app"))
        if any(pattern.match(scope["path"]) for pattern in self._form_paths):
            return None  # the login's own dependency says it takes a form when sent JSON
        return media or "no Content-Type"

    def _too_large(self) -> str:
        return f"The request body is larger than the allowed {self.max_body_bytes} bytes."

    @staticmethod
    async def _reply(
        send: Any, status: int, code: str, detail: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        body = _error_body(status, code, detail, fields)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
