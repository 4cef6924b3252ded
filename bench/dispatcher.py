"""Dispatcher benchmark: throughput to a loopback webhook receiver against a bare httpx loop posting the same
signed bodies in the same run (target: at least 0.5 of it; the median of alternating rounds), and a backlog of
100,000 messages drained whole by a `glucodiary dispatcher` process whose RSS must grow by less than 20 MiB.

    .venv/bin/python -m bench.dispatcher            # SQLite file in a temporary folder (also: bash bench/run.sh dispatcher)
    BENCH_DISPATCHER_MESSAGES=5000 BENCH_DISPATCHER_ROUNDS=3 BENCH_DISPATCHER_BACKLOG=100000 .venv/bin/python -m bench.dispatcher
    BENCH_DISPATCHER_MAX_S=1200                     # the backlog's drain stops there (figures kept, target missed)

A benchmark, not a test: prints figures against targets and exits 0. Its children (the receiver, the dispatcher
process) stop with it however it ends: SIGTERM from this driver, or from the kernel if the driver is killed.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SECRET = "bench-webhook-secret-0123456789abcdefgh"
MESSAGES = int(os.environ.get("BENCH_DISPATCHER_MESSAGES", "5000"))
ROUNDS = int(os.environ.get("BENCH_DISPATCHER_ROUNDS", "3"))
BACKLOG = int(os.environ.get("BENCH_DISPATCHER_BACKLOG", "100000"))
CONCURRENCY = 16
MAX_S = int(os.environ.get("BENCH_DISPATCHER_MAX_S", "1200"))  # the backlog's drain stops there, figures kept
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


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent: int) -> None:
    """In a child: be sent SIGTERM when `parent` dies, however it dies (SIGKILL of it or of its process group
    included), so the benchmark never leaves a dispatcher or a receiver running. Linux only; elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def _serve(sock: socket.socket, parent: int) -> None:
    die_with(parent)
    import uvicorn

    config = uvicorn.Config(_accept, log_level="warning", access_log=False, lifespan="off", http="httptools")
    uvicorn.Server(config).run(sockets=[sock])


def start_receiver() -> tuple[str, multiprocessing.process.BaseProcess]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(sock, os.getpid()), daemon=True
    )
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


async def pending() -> int:
    from sqlalchemy import func, select

    from core.db import database
    from core.models.outbox import OutboxMessage

    async with database.engine.connect() as connection:
        found = await connection.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")  # type: ignore[arg-type]
        )
        return int(found.scalar_one())


@dataclass
class Drain:
    drained: int
    seconds: float
    warm_mib: float  # RSS once 5 % of the backlog is drained (imports, pools and caches warm)
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.drained / self.seconds


async def backlog(count: int) -> Drain:
    """Drain `count` messages with a `glucodiary dispatcher` process, its RSS sampled every half second."""
    from core.db import database

    await seed(count)
    parent = os.getpid()
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "dispatcher"],
        cwd=ROOT,
        env=dict(os.environ),
        # its own process group (Ctrl-C reaches only this driver, which stops it with SIGTERM), and SIGTERM
        # from the kernel should this driver die without getting there (PR_SET_PDEATHSIG survives the exec)
        start_new_session=True,
        preexec_fn=lambda: die_with(parent),
    )
    started = time.perf_counter()
    warm = peak = 0
    left = count
    try:
        while True:
            await asyncio.sleep(0.5)
            left = await pending()
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
    return Drain(count - left, elapsed, warm / 1024, peak / 1024)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="glucodiary-bench-dispatcher-"))
    database_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    url, receiver = start_receiver()
    configure(url, database_url)
    from core import migrations

    migrations.upgrade(database_url)
    try:
        rounds = []  # bare loop and dispatcher alternately, so both see the same machine
        for _ in range(ROUNDS):
            bare = asyncio.run(bare_loop(url, MESSAGES))
            rounds.append((bare, asyncio.run(dispatcher_rate(MESSAGES))))
        ratios = [mine / bare for bare, mine in rounds]
        ratio = statistics.median(ratios)
        print(
            f"dispatcher throughput (SQLite, webhook on 127.0.0.1, {CONCURRENCY} in flight, {MESSAGES} messages, "
            f"median of {ROUNDS} alternating rounds):"
        )
        print(f"  bare httpx loop      {statistics.median(b for b, _ in rounds):8.0f} msg/s")
        print(
            f"  dispatcher           {statistics.median(m for _, m in rounds):8.0f} msg/s   = {ratio:.2f} of the "
            f"bare loop (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.50: "
            f"{'met' if ratio >= 0.5 else 'NOT met'})"
        )
        drain = asyncio.run(backlog(BACKLOG))
        growth = drain.peak_mib - drain.warm_mib
        print(
            f"backlog: {drain.drained} of {BACKLOG} messages drained by `glucodiary dispatcher` in "
            f"{drain.seconds:.0f} s ({drain.rate:.0f} msg/s; target: all of them: "
            f"{'met' if drain.drained == BACKLOG else 'NOT met'})"
        )
        print(
            f"  RSS {drain.warm_mib:.1f} MiB at 5 % drained, peak {drain.peak_mib:.1f} MiB: growth {growth:.1f} MiB "
            f"(target < 20 MiB: {'met' if growth < 20 else 'NOT met'})"
        )
    finally:
        receiver.terminate()
        receiver.join(5)


if __name__ == "__main__":
    main()
