"""Every answer a test receives matches what /openapi.json declares for it (issue 9: routes validate what they
answer). The diary renders its answers itself (api/diary_answers.py) and sends them without validating them
again, so this check is what holds them to their schemas: each JSON answer of a documented operation must have
a documented status and validate against that status's schema, the error bodies included.

The test clients (tests/conftest.py) run it on every response, so the whole suite checks the contract as it
goes; a test that must see an answer outside the contract (a fault, a crash) says so with `unchecked()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx
import jsonschema_rs
import orjson
from fastapi import FastAPI

_SKIP: ContextVar[bool] = ContextVar("unchecked_answers", default=False)


@contextmanager
def unchecked() -> Iterator[None]:
    """Answers inside this block are not held to the contract (for tests of faults the contract cannot name)."""
    token = _SKIP.set(True)
    try:
        yield
    finally:
        _SKIP.reset(token)


class Contract:
    """The operations of one OpenAPI document: (method, path pattern) -> {status: validator or None}."""

    def __init__(self, document: dict[str, Any]) -> None:
        components = {"components": document.get("components", {})}
        self.operations: list[tuple[str, re.Pattern[str], str, dict[str, Any]]] = []
        for path, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", path) + "$")
            for method, operation in operations.items():
                statuses: dict[str, Any] = {}
                for status, answer in operation.get("responses", {}).items():
                    schema = answer.get("content", {}).get("application/json", {}).get("schema")
                    statuses[status] = (
                        None if schema is None else jsonschema_rs.validator_for({**schema, **components})
                    )
                self.operations.append((method.upper(), pattern, path, statuses))
        # literal paths before templated ones (/entries/batch is not /entries/{entry_id})
        self.operations.sort(key=lambda op: op[2].count("{"))

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        for op_method, pattern, template, statuses in self.operations:
            if op_method != method or not pattern.match(path):
                continue
            where = f"{method} {template} answered {status}"
            declared = str(status) in statuses
            assert declared or status >= 500, f"{where}: the status is not documented ({sorted(statuses)})"
            validator = statuses.get(str(status))
            if validator is None or not content_type.startswith("application/json"):
                return
            errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(orjson.loads(body))]
            assert not errors, f"{where} not as documented: {errors[:5]}\n{body[:2000]!r}"
            return


_CONTRACT: list[Contract] = []  # built once per process: every test app serves the same document


def contract_of(app: FastAPI) -> Contract:
    """The app's contract (from the first app asked about: the document does not change between tests)."""
    if not _CONTRACT:
        _CONTRACT.append(Contract(app.openapi()))
    return _CONTRACT[0]


def hook(app: FastAPI) -> Any:
    """An httpx response hook holding every answer of `app` to its contract."""

    async def check(response: httpx.Response) -> None:
        if _SKIP.get():
            return
        await response.aread()
        contract_of(app).check(
            response.request.method,
            response.request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )

    return check
