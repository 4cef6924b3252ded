"""The long-running services besides the API, named by import string so `core` and `api` never import
`notifications` (the import contracts in pyproject.toml): the CLI runs one as its own process, and the API
process runs them as tasks when GLUCODIARY_BACKGROUND__IN_API is on (`make run`)."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, cast

log = logging.getLogger("glucodiary.background")

# name -> (own process: "module:coroutine function()", in another process: "module:coroutine function(stop)")
SERVICES: dict[str, tuple[str, str]] = {
    "dispatcher": ("notifications.service:run_forever", "notifications.service:run_in_background"),
    # the visits helper's scheduler (core/scheduling/runner.py); left out with a log line until it exists
    "scheduler": ("core.scheduling.runner:run_forever", "core.scheduling.runner:run_in_background"),
}


def _load(target: str) -> Callable[..., Coroutine[Any, Any, None]]:
    module, _, name = target.partition(":")
    return cast(Callable[..., Coroutine[Any, Any, None]], getattr(importlib.import_module(module), name))


def standalone(name: str) -> Callable[[], Coroutine[Any, Any, None]]:
    """The entry point of `glucodiary NAME`."""
    return _load(SERVICES[name][0])


async def run_embedded(stop: asyncio.Event) -> None:
    """Every service as a task of this process until `stop` is set (the API's lifespan under `make run`).

    A service whose module is missing or fails is logged and left out: the API keeps serving.
    """
    tasks: list[asyncio.Task[None]] = []
    for name, (_own, embedded) in SERVICES.items():
        try:
            entry = _load(embedded)
        except (ImportError, AttributeError) as exc:
            log.warning("background service %s not available: %s", name, exc)
            continue
        tasks.append(asyncio.create_task(entry(stop), name=f"background:{name}"))
        log.info("background service %s runs in this process", name)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("background service %s failed: %r", task.get_name(), result)
