"""Open-loop load generator: sends on a fixed schedule and times each answer from its scheduled send time.

Like wrk2, it corrects coordinated omission: a request that had to wait (for a free connection, or for a
late client) counts that wait in its latency, so a stalled server cannot hide its queue by slowing the sender.
Raw HTTP/1.1 over keep-alive connections on asyncio (uvloop when installed); the driver pins it to its own CPU.

    python -m bench.loadgen CONFIG.json     (writes the result to config["result_file"])

Config: host, port, people_file, mode ("open": `rate` requests/s for `duration_s`; "closed": `concurrency`
requests always in flight for `duration_s`, each timed from its own send: the service time), kinds
({kind: weight}), max_connections, timeout_s, seed, and ids_file (write the acknowledged entry ids there).
Every loop is bounded: the schedule ends after duration_s, stragglers are given up after timeout_s.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bench.mix import Prepared, acknowledged, builder, read_people

ERROR_EXAMPLES = 5
CONNECTION_ERROR = 0  # the status recorded when the connection failed
TIMED_OUT = -1  # ... when no answer came within timeout_s
KEEP_ALIVE_S = 4.0  # reuse an idle connection only this long: uvicorn closes them after 5 s
TIMER_SLACK_S = 0.001  # wake up to this much early: the loop's timers fire up to a millisecond late


class ProtocolError(Exception):
    """An answer this small client does not read (no Content-Length)."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.perf_counter()

    @property
    def stale(self) -> bool:
        """Idle too long: the server may be closing it (uvicorn's keep-alive timeout), or has closed it."""
        return time.perf_counter() - self.idle_since > KEEP_ALIVE_S or self.reader.at_eof()

    async def exchange(self, raw: bytes) -> tuple[int, bytes, bool]:
        """(status, body, server closes) of one request on this connection."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, closes = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                closes = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked answers are not read by this client")
        body = await self.reader.readexactly(length) if length else b""
        return status, body, closes

    def close(self) -> None:
        self.writer.close()


@dataclass
class Pool:
    """Keep-alive connections: reuse an idle one, open up to `limit`, else queue (the wait is latency)."""

    host: str
    port: int
    limit: int
    idle: list[Connection] = field(default_factory=list)
    opened: int = 0
    most: int = 0
    waiters: deque[asyncio.Future[Connection | None]] = field(default_factory=deque)

    async def get(self) -> Connection:
        while self.idle:
            connection = self.idle.pop()  # the most recently used first: the others may go stale and close
            if not connection.stale:
                return connection
            self.discard(connection)
        if self.opened >= self.limit:
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            handed = await waiter
            if handed is not None:
                return handed
        # a free slot (or a slot a discarded connection left): open a connection
        self.opened += 1
        self.most = max(self.most, self.opened)
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self._release_slot()
            raise
        return Connection(reader, writer)

    def put(self, connection: Connection) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        connection.idle_since = time.perf_counter()
        self.idle.append(connection)

    def discard(self, connection: Connection) -> None:
        connection.close()
        self._release_slot()

    def _release_slot(self) -> None:
        self.opened -= 1
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the waiter opens its own connection in get()
                return

    def close_all(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


@dataclass
class Recorder:
    kinds: list[str]
    record_ids: bool
    origin: float
    samples: list[tuple[int, float, float, int]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    error_examples: list[str] = field(default_factory=list)

    def add(
        self, prepared: Prepared, scheduled: float, late: float, done: float, status: int, body: bytes
    ) -> None:
        # (kind, scheduled since start, latency from the scheduled time, status); times in milliseconds
        index = self.kinds.index(prepared.kind)
        self.samples.append((index, (scheduled - self.origin) * 1e3, (done - scheduled) * 1e3, status))
        self.lags.append(late * 1e3)  # the sender's own lateness (negative: woke early)
        if 200 <= status < 300:
            if self.record_ids:
                self.ids.extend(acknowledged(prepared, status, body))
        elif len(self.error_examples) < ERROR_EXAMPLES:
            self.error_examples.append(f"{prepared.kind} {status}: {body[:300].decode(errors='replace')}")


async def send(
    pool: Pool, prepared: Prepared, scheduled: float, timeout_s: float, recorder: Recorder
) -> None:
    status, body = CONNECTION_ERROR, b""
    # The clock starts at the scheduled time, or at this call if the timer woke the sender early (its
    # resolution is about a millisecond); waiting for a connection is counted either way.
    begun = time.perf_counter()
    late = begun - scheduled
    scheduled = max(scheduled, begun)
    try:
        async with asyncio.timeout(timeout_s):
            connection = await pool.get()
            try:
                status, body, closes = await connection.exchange(prepared.raw)
            except BaseException:
                pool.discard(connection)
                raise
            if closes:
                pool.discard(connection)
            else:
                pool.put(connection)
    except TimeoutError:
        status, body = TIMED_OUT, b"no answer within the timeout"
    except (
        OSError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        ProtocolError,
        ValueError,
    ) as exc:
        status, body = CONNECTION_ERROR, f"{type(exc).__name__}: {exc}".encode()
    recorder.add(prepared, scheduled, late, time.perf_counter(), status, body)


def _chooser(kinds: dict[str, float], seed: int) -> Any:
    rng = random.Random(seed ^ 0x5EED)
    names, weights = list(kinds), list(kinds.values())
    return lambda: rng.choices(names, weights)[0]


async def run(config: dict[str, Any]) -> dict[str, Any]:
    host, port = config.get("host", "127.0.0.1"), int(config["port"])
    build = builder(read_people(config["people_file"]), f"{host}:{port}", int(config.get("seed", 1)))
    choose = _chooser(config["kinds"], int(config.get("seed", 1)))
    duration_s, timeout_s = float(config["duration_s"]), float(config.get("timeout_s", 10))
    pool = Pool(host, port, int(config.get("max_connections", 64)))
    tasks: set[asyncio.Task[None]] = set()
    for _ in range(min(pool.limit, int(config.get("preopen", 8)))):  # connections ready before the clock
        pool.put(await pool.get())
    gc.collect()
    gc.freeze()
    origin = time.perf_counter() + 0.05
    recorder = Recorder(list(config["kinds"]), bool(config.get("ids_file")), origin)
    end = origin + duration_s
    if config["mode"] == "open":
        interval = 1.0 / float(config["rate"])
        for index in range(int(duration_s * float(config["rate"]))):
            prepared = build(choose())  # built before its time comes, so building never delays a send
            scheduled = origin + index * interval
            delay = scheduled - time.perf_counter() - TIMER_SLACK_S
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send(pool, prepared, scheduled, timeout_s, recorder))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s + 5)
    else:

        async def worker() -> None:
            while time.perf_counter() < end:
                prepared = build(choose())
                await send(pool, prepared, time.perf_counter(), timeout_s, recorder)

        await asyncio.sleep(max(0.0, origin - time.perf_counter()))
        await asyncio.gather(*(worker() for _ in range(int(config.get("concurrency", 1)))))
    for task in tasks:
        task.cancel()
    pool.close_all()
    if config.get("ids_file"):
        with open(config["ids_file"], "w", encoding="utf-8") as out:
            out.write("\n".join(recorder.ids))
    return {
        "kinds": recorder.kinds,
        "samples": recorder.samples,
        "unanswered": len(tasks),
        "sender_late_ms": _percentiles(recorder.lags),
        "connections_used": pool.most,
        "acknowledged": len(recorder.ids),
        "error_examples": recorder.error_examples,
        "elapsed_s": time.perf_counter() - origin,
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {f"p{q:g}": ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] for q in (50, 99, 100)}


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as source:
        config = json.load(source)
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    result = runner(run(config))
    with open(config["result_file"], "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
