"""A bench-only app factory: the real service with some of its speed devices (or its rules) switched off.

Issue 9 keeps performance machinery only where a figure earns it; this measures each device against its
absence on the same scenario. The switches live here, read from BENCH_WITHOUT (comma-separated names of
WITHOUT below) by bench code only: production settings know nothing of them. Each switch patches the
running process, never a file; a patched name that no longer exists stops the server with a clear error
(the code moved on: the bench must follow).

    BENCH_WITHOUT=unvalidated_answers python -m bench.devapp --port 8000      (as `glucodiary serve`, one worker)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from fastapi import FastAPI, Response


def _swap(module: ModuleType, name: str, new: Any) -> None:
    if not hasattr(module, name):
        raise RuntimeError(f"bench.devapp: {module.__name__}.{name} no longer exists; update bench/devapp.py")
    setattr(module, name, new)


def _without_unvalidated_answers(app: FastAPI) -> None:
    """Every diary answer validated by its schema and serialised by pydantic at run time, instead of rendered
    and sent by orjson (the tests hold those to the schemas instead): the cost the fast path avoids."""
    from pydantic import TypeAdapter

    from api import diary_answers
    from api.schemas.diary import EntryPublic

    adapters: dict[Any, TypeAdapter[Any]] = {}

    def validated(
        content: Any,
        schema: Any = EntryPublic,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if schema not in adapters:
            adapters[schema] = TypeAdapter(schema)
        adapter = adapters[schema]
        body = adapter.dump_json(adapter.validate_python(content))
        return Response(body, status_code=status_code, media_type="application/json", headers=headers)

    _swap(diary_answers, "respond", validated)


def _without_rules(app: FastAPI) -> None:
    """No protocol rules after a write: their cost is the diary POST against this (not a device)."""
    from core.diary import rejudge
    from core.diary import service as diary_service
    from core.rules import service as rules_service

    async def judge_nothing(*, entries: list[Any], **_: Any) -> list[Any]:
        return [rules_service.RuleOutcome() for _ in entries]

    async def rejudge_nothing(**_: Any) -> int:
        return 0

    _swap(rules_service, "_evaluate", judge_nothing)
    _swap(diary_service, "rejudge_near_meal", rejudge_nothing)
    _swap(rejudge, "rejudge_near_meal", rejudge_nothing)


WITHOUT: dict[str, Callable[[FastAPI], None]] = {
    "unvalidated_answers": _without_unvalidated_answers,
    "rules": _without_rules,
}


def create_app() -> FastAPI:
    from api.main import create_app as create_service

    names = [n.strip() for n in os.environ.get("BENCH_WITHOUT", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in WITHOUT]
    if unknown:
        raise RuntimeError(f"bench.devapp: unknown BENCH_WITHOUT {unknown}; known: {', '.join(WITHOUT)}")
    app = create_service()
    for name in names:
        WITHOUT[name](app)
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # the settings `glucodiary serve` passes (core/cli.py), so only the switched-off device differs
    uvicorn.run(
        "bench.devapp:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        server_header=False,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
