"""PostgreSQL restarted under load (issue 13): a cluster of the test's own (initdb/pg_ctl on its own port, never
the shared server) behind the real service (`glucodiary serve`). While it is down every answer is 503 with
Retry-After; the service recovers by itself within 5 s of the database returning; every entry answered 2xx is
stored exactly once (phones retry the same id until they get a 2xx)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import BACKEND
from tests.faults.live import PgCluster, cli, demo_login, glucose, postgres_bin, running, sign_in
from tests.urls import API

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres" or postgres_bin() is None,
    reason="the PostgreSQL leg runs it (it needs PostgreSQL's binaries to start a cluster of its own)",
)

WORKERS = 4
OUTAGE_SECONDS = 3.0
RECOVERY_LIMIT_SECONDS = 5.0
DEADLINE_SECONDS = 90.0  # the whole load, whatever happens


@dataclass
class Observed:
    answers: list[tuple[float, int, bool]] = field(default_factory=list)  # (when, status, has Retry-After)
    transport_errors: list[str] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # entry id -> the 2xx it got


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


async def _phone(base: str, path: str, headers: dict[str, str], stop: asyncio.Event, seen: Observed) -> None:
    """One phone logging readings: each entry is sent until it is answered 2xx, as the app does."""
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=15) as client:
        minutes = 0
        while not stop.is_set():
            entry_id, minutes = str(uuid.uuid4()), minutes + 1
            body = glucose(entry_id, minutes_ago=minutes % 600 + 5)
            for _ in range(2000):  # bounded: the deadline below ends it long before
                try:
                    answer = await client.post(path, json=body)
                except httpx.TransportError as exc:
                    seen.transport_errors.append(type(exc).__name__)
                    await asyncio.sleep(0.1)
                    continue
                seen.answers.append((time.monotonic(), answer.status_code, "retry-after" in answer.headers))
                if answer.status_code in (200, 201):
                    seen.acknowledged[entry_id] = answer.status_code
                    break
                await asyncio.sleep(0.1)  # a phone waits Retry-After; the test need not wait 5 s


async def _load_with_restart(cluster: PgCluster, base: str, path: str, headers: dict[str, str]) -> dict:
    seen, stop = Observed(), asyncio.Event()
    phones = [asyncio.create_task(_phone(base, path, headers, stop, seen)) for _ in range(WORKERS)]
    started = time.monotonic()
    try:
        await asyncio.sleep(2)
        before_outage = len(seen.acknowledged)
        await asyncio.to_thread(cluster.stop, "immediate")  # a crash: no checkpoint, clients cut off
        down_at = time.monotonic()  # pg_ctl has returned: the server is gone (under load it takes a while)
        await asyncio.sleep(OUTAGE_SECONDS)
        starting_at = time.monotonic()  # from here the server may accept connections before pg_ctl returns
        await asyncio.to_thread(cluster.start)
        back_at = time.monotonic()
        while time.monotonic() - started < DEADLINE_SECONDS:
            if any(when > back_at and status in (200, 201) for when, status, _ in seen.answers):
                break
            await asyncio.sleep(0.05)
        recovered_at = min(
            (when for when, status, _ in seen.answers if when > back_at and status in (200, 201)),
            default=None,
        )
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*phones), timeout=DEADLINE_SECONDS)
    return {
        "seen": seen,
        "before_outage": before_outage,
        "down_at": down_at,
        "starting_at": starting_at,
        "back_at": back_at,
        "recovered_at": recovered_at,
    }


async def _stored(url: str, ids: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        entries = await connection.fetch(
            "SELECT id::text, count(*) FROM diary_entry WHERE id = ANY($1::uuid[]) GROUP BY id", ids
        )
        versions = await connection.fetch(
            "SELECT entry_id::text, count(*) FROM diary_entry_version WHERE entry_id = ANY($1::uuid[]) "
            "GROUP BY entry_id",
            ids,
        )
    finally:
        await connection.close()
    return {r[0]: r[1] for r in entries}, {r[0]: r[1] for r in versions}


def test_postgres_restarted_under_load(cluster: PgCluster, tmp_path: Path) -> None:
    cluster.create_database("glucodiary")
    url = cluster.url("glucodiary")
    cli(["migrate"], url, tmp_path)
    cli(["demo"], url, tmp_path)
    with running(url, tmp_path) as service:
        headers, me = sign_in(service.base, demo_login("adult@demo.glucodiary.test"))
        path = f"{API}/participants/{me['participants'][0]['id']}/entries"
        run = asyncio.run(_load_with_restart(cluster, service.base, path, headers))
        ready_after = httpx.get(f"{service.base}/ready", timeout=10)
    seen: Observed = run["seen"]

    statuses = {status for _, status, _ in seen.answers}
    assert statuses <= {200, 201, 503}, f"unexpected answers: {sorted(statuses)}"
    assert not seen.transport_errors, f"the service itself failed: {seen.transport_errors[:5]}"
    assert all(has_retry for _, status, has_retry in seen.answers if status == 503), (
        "a 503 without Retry-After"
    )
    assert run["before_outage"] > 0, "no entry was stored before the outage: the load did not run"
    # answers while the database was certainly down (after pg_ctl stop returned, before it was started): all 503
    during = [status for when, status, _ in seen.answers if run["down_at"] < when < run["starting_at"]]
    assert len(during) >= 5 and set(during) == {503}, during[:20]
    assert run["recovered_at"] is not None, "no entry was stored after the database came back"
    recovery = run["recovered_at"] - run["back_at"]
    assert recovery < RECOVERY_LIMIT_SECONDS, f"recovered {recovery:.1f} s after the database returned"
    assert ready_after.status_code == 200

    ids = list(seen.acknowledged)
    entries, versions = asyncio.run(_stored(url, ids))
    assert len(ids) > run["before_outage"]
    assert entries == dict.fromkeys(ids, 1), "an acknowledged entry is missing or stored twice"
    assert versions == dict.fromkeys(ids, 1), "an acknowledged entry has no version, or more than one"
    print(
        f"restart: {len(ids)} entries acknowledged, {len(during)} answers 503 during the outage, "
        f"recovered {recovery:.2f} s after PostgreSQL returned"
    )
