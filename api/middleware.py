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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.text import NUL, NUL_MESSAGE

logger = logging.getLogger("glucodiary.api")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def internal_error_detail(request_id: str) -> str:
    """What a 500 says: nothing of the fault itself, the request id to quote."""
    return f"Something went wrong on our side. Quote request id {request_id} to support."


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
