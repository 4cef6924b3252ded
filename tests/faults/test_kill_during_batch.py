"""kill -9 of the service during 1,000-entry batches, several times (issue 13): each batch is stored whole or
not at all, never in part; sent again after the restart, every batch is stored exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import migrations
from tests.conftest import create_database, drop_database
from tests.faults.live import Service, cli, count_where_in, demo_login, glucose, sign_in
from tests.urls import API

BATCH = 1000
KILL_AT = (0.15, 0.4, 0.65, 0.9)  # fractions of a batch's measured time at which the service is killed


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    url = create_database("kill9")
    migrations.upgrade(url)
    cli(["demo"], url, tmp_path)
    yield url
    drop_database(url)


def _batch() -> list[dict[str, Any]]:
    return [glucose(str(uuid.uuid4()), minutes_ago=5 + i) for i in range(BATCH)]


def _post(service: Service, path: str, headers: dict[str, str], entries: list[dict[str, Any]]) -> int | None:
    try:
        return httpx.post(
            f"{service.base}{path}", json={"entries": entries}, headers=headers, timeout=120
        ).status_code
    except httpx.TransportError:
        return None  # the process died under the request


def _stored(url: str, entries: list[dict[str, Any]]) -> int:
    return count_where_in(url, "diary_entry", "id", [e["id"] for e in entries])


def test_kill_9_during_batches_leaves_each_batch_whole_or_absent(database: str, tmp_path: Path) -> None:
    service = Service(database, tmp_path)
    service.start()
    headers, me = sign_in(service.base, demo_login("adult@demo.glucodiary.test"))
    path = f"{API}/participants/{me['participants'][0]['id']}/entries/batch"
    # one batch through undisturbed, to learn how long one takes here
    warm = _batch()
    began = time.monotonic()
    assert _post(service, path, headers, warm) in (200, 201)
    batch_seconds = time.monotonic() - began
    assert _stored(database, warm) == BATCH

    outcomes: list[tuple[float, int | None, int]] = []
    batches: list[list[dict[str, Any]]] = []
    for fraction in KILL_AT:
        if service.process is None or service.process.poll() is not None:
            service.start()
        entries = _batch()
        batches.append(entries)
        answer: list[int | None] = []
        sender = threading.Thread(
            target=lambda sent=entries, into=answer: into.append(_post(service, path, headers, sent))
        )
        sender.start()
        time.sleep(batch_seconds * fraction)
        service.kill()
        sender.join(timeout=130)
        stored = _stored(database, entries)
        outcomes.append((fraction, answer[0] if answer else None, stored))
        assert stored in (0, BATCH), (
            f"killed at {fraction:.0%} of a batch: {stored} of {BATCH} entries stored"
        )
        if answer and answer[0] is not None and 200 <= answer[0] < 300:
            assert stored == BATCH, "a batch answered 2xx is not stored whole"

    assert any(status is None for _, status, _ in outcomes), f"no kill landed during a batch: {outcomes}"
    # the phone sends every batch again after the restart: each ends stored exactly once
    service.start()
    try:
        for entries in batches:
            assert _post(service, path, headers, entries) in (200, 201)
            assert _stored(database, entries) == BATCH
    finally:
        service.stop()
    print(f"kill -9: batch {batch_seconds:.2f} s; (kill at, answer, stored): {outcomes}")
