"""Dispatcher benchmark: throughput to a loopback webhook receiver against a bare httpx loop posting the same
signed bodies in the same run (target: at least 0.5 of it), and a backlog of 100,000 messages drained by a
`glucodiary dispatcher` process whose RSS must grow by less than 20 MiB.

    .venv/bin/python -m bench.dispatcher            # SQLite file in a temporary folder
    BENCH_DISPATCHER_MESSAGES=5000 BENCH_DISPATCHER_BACKLOG=100000 .venv/bin/python -m bench.dispatcher

A benchmark, not a test: prints figures against targets and exits 0.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SECRET = "bench-webhook-secret-0123456789abcdefgh"
MESSAGES = int(os.environ.get("BENCH_DISPATCHER_MESSAGES", "5000"))
BACKLOG = int(os.environ.get("BENCH_DISPATCHER_BACKLOG", "100000"))
CONCURRENCY = 16
MAX_S = int(os.environ.get("BENCH_DISPATCHER_MAX_S", "900"))  # the backlog's drain stops there, figures kept
ROOT = Path(__file__).resolve().parents[1]


async def _accept(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


def _serve(sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(_accept, log_level="warning", access_log=False, lifespan="off", http="httptools")
    uvicorn.Server(config).run(sockets=[sock])


def start_receiver() -> tuple[str, multiprocessing.process.BaseProcess]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    for _ in range(100):
        try:
            socket.create_connection(sock.getsockname(), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return url, process


def configure(url: str, database_url: str) -> None:
    os.environ.update(
        {
            "GLUCODIARY_ENV": "test",
            "GLUCODIARY_LOG_LEVEL": "WARNING",
            "GLUCODIARY_DB__URL": database_url,
            "GLUCODIARY_NOTIFICATIONS__WEBHOOK_URL": url,
            "GLUCODIARY_NOTIFICATIONS__WEBHOOK_SECRET": SECRET,
            "GLUCODIARY_NOTIFICATIONS__WEBHOOK_ALLOW_HOSTS": '["127.0.0.1"]',
            "GLUCODIARY_NOTIFICATIONS__CONCURRENCY": str(CONCURRENCY),
            "GLUCODIARY_NOTIFICATIONS__POLL_S": "0.2",
        }
    )


async def seed(count: int) -> list[uuid.UUID]:
    from core import clock
    from core.db import database
    from core.models.outbox import OutboxMessage
    from core.models.people import User

    users = [uuid.uuid4() for _ in range(50)]
    now = clock.now()
    async with database.engine.begin() as connection:
        await connection.execute(
            User.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": u,
                    "email": f"b-{u.hex}@example.org",
                    "password_hash": "x",
                    "role": "clinician",
                    "active": True,
                    "token_version": 0,
                    "created_at": now,
                }
                for u in users
            ],
        )
        ids = [uuid.uuid4() for _ in range(count)]
        for start in range(0, count, 5000):
            await connection.execute(
                OutboxMessage.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "id": m,
                        "recipient_user_id": users[n % len(users)],
                        "kind": "alert.raised",
                        "category": "alert",
                        "severity": "warning",
                        "priority": "normal",
                        "payload": {"kind": "hypoglycemia_level_1"},
                        "dedup_key": f"bench:{m}",
                        "due_at": now,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    }
                    for n, m in enumerate(ids[start : start + 5000], start)
                ],
            )
    return ids


async def bare_loop(url: str, count: int) -> float:
    """Messages/s of a plain httpx loop posting the dispatcher's own signed bodies, 16 in flight."""
    import httpx

    from notifications.channels import Outgoing, sign, webhook_body
    from notifications.render import render

    rendered = render(
        kind="alert.raised", category="alert", severity="warning", payload={}, link_base_url="x"
    )
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        timeout=5, limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    ) as client:

        async def post(n: int) -> None:
            out = Outgoing(
                uuid.uuid4(), "alert.raised", "alert", "warning", uuid.uuid4(), "", "2026-01-01", rendered
            )
            body = webhook_body(out)
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": str(out.message_id),
                "X-Glucodiary-Timestamp": stamp,
                "X-Glucodiary-Signature": sign(SECRET.encode(), stamp, body),
            }
            async with semaphore:
                answer = await client.post(url, content=body, headers=headers)
            answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(n) for n in range(count)))
        return count / (time.perf_counter() - started)


async def dispatcher_rate(count: int) -> float:
    """Messages/s of the dispatcher draining `count` due messages (claim, render, sign, send, record)."""
    from core.config import get_settings
    from core.db import database
    from notifications.service import build_dispatcher

    await seed(count)
    dispatcher = build_dispatcher()
    assert get_settings().notifications.webhook_url
    started = time.perf_counter()
    sent = 0
    while sent < count:
        report = await dispatcher.run_once()
        if report.claimed == 0:
            break
        sent += report.sent
    elapsed = time.perf_counter() - started
    for channel in dispatcher.channels.values():
        await channel.close()
    await database.dispose()
    return sent / elapsed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def pending(database_url: str) -> int:
    from sqlalchemy import func, select

    from core.db import database
    from core.models.outbox import OutboxMessage

    async with database.engine.connect() as connection:
        found = await connection.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")  # type: ignore[arg-type]
        )
        return int(found.scalar_one())


async def backlog(database_url: str, count: int) -> tuple[float, float, float]:
    """Drain `count` messages with a `glucodiary dispatcher` process: (RSS at 5 % drained MiB, peak MiB, msgs/s)."""
    from core.db import database

    await seed(count)
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "dispatcher"], cwd=ROOT, env=dict(os.environ)
    )
    started = time.perf_counter()
    warm = peak = 0
    left = count
    try:
        while True:
            await asyncio.sleep(0.5)
            left = await pending(database_url)
            rss = rss_kib(process.pid)
            if not warm and left <= count * 0.95:
                warm = rss
            peak = max(peak, rss)
            if left == 0:
                break
            if time.perf_counter() - started > MAX_S:
                print(f"bench: backlog not drained after {MAX_S} s ({left} of {count} left); figures so far")
                break
        elapsed = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        await database.dispose()
    return warm / 1024, peak / 1024, (count - left) / elapsed


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="glucodiary-bench-dispatcher-"))
    database_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    url, receiver = start_receiver()
    configure(url, database_url)
    from core import migrations

    migrations.upgrade(database_url)
    try:
        bare = asyncio.run(bare_loop(url, MESSAGES))
        mine = asyncio.run(dispatcher_rate(MESSAGES))
        ratio = mine / bare
        print(
            f"dispatcher throughput (SQLite, webhook on 127.0.0.1, {CONCURRENCY} in flight, {MESSAGES} messages):"
        )
        print(f"  bare httpx loop      {bare:8.0f} msg/s")
        print(
            f"  dispatcher           {mine:8.0f} msg/s   = {ratio:.2f} of the bare loop "
            f"(target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})"
        )
        warm, peak, rate = asyncio.run(backlog(database_url, BACKLOG))
        growth = peak - warm
        print(f"backlog of {BACKLOG} messages drained by `glucodiary dispatcher` at {rate:.0f} msg/s:")
        print(
            f"  RSS {warm:.1f} MiB at 5 % drained, peak {peak:.1f} MiB: growth {growth:.1f} MiB "
            f"(target < 20 MiB: {'met' if growth < 20 else 'NOT met'})"
        )
    finally:
        receiver.terminate()
        receiver.join(5)


if __name__ == "__main__":
    main()
