"""The open-loop part of `make bench` (issue 13): the mix's service times, capacity and tail at half of it,
memory, dense days, the soak and two worker processes. Every figure goes into `Checks` against its target.

Sections (names for BENCH_SCENARIOS, like the wrk scenarios): openloop, dense, soak, workers, reports (issue 11:
the study reports on a generated 1,000-participant cohort, bench/reports.py).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import checkwrk
from bench.mix import FLOOR, MIX
from bench.openloop import Capacity, LoadRun, Target, drive, find_capacity, service_times
from bench.procs import Processes, Server, _descendants, free_port, memory_kib, reset_peak_rss
from bench.scenarios import STACK_FLOOR_SERVER, RunContext, _glucodiary_migrate
from bench.targets import Checks

SECTIONS = ("openloop", "floor", "dense", "soak", "workers", "reports")
MIB = 1024


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class SuiteSettings:
    participants: int = int(env_float("BENCH_MIX_PARTICIPANTS", 1000))
    entries_each: int = int(env_float("BENCH_MIX_ENTRIES_EACH", 100))
    check_rate: float = env_float("BENCH_CHECK_RATE", 20)
    check_seconds: float = env_float("BENCH_CHECK_SECONDS", 10)
    service_seconds: float = env_float("BENCH_SERVICE_SECONDS", 5)
    capacity_seconds: float = env_float("BENCH_CAPACITY_SECONDS", 10)
    half_seconds: float = env_float("BENCH_MIX_SECONDS", 120)
    soak_seconds: float = env_float("BENCH_SOAK_SECONDS", 600)
    dense_batches: int = int(env_float("BENCH_DENSE_BATCHES", 5))


def diary_env(ctx: RunContext) -> dict[str, str]:
    """The service's environment for the open-loop runs: pool held at 20 as in the wrk scenarios, and
    access tokens of an hour (the longest allowed) so a soak does not outlive them; tokens are re-issued
    before each long run anyway."""
    return {
        **ctx.glucodiary_env(),
        "GLUCODIARY_DB__POOL_SIZE": "20",
        "GLUCODIARY_DB__MAX_OVERFLOW": "0",
        "GLUCODIARY_SECURITY__ACCESS_TOKEN_MINUTES": "60",
    }


@dataclass
class Suite:
    ctx: RunContext
    procs: Processes
    checks: Checks
    say: Callable[[str], None]
    server_cpu: int | None
    load_cpu: int | None
    settings: SuiteSettings = field(default_factory=SuiteSettings)
    tag: str | None = None
    capacity: float | None = None

    # ---- servers and participants ----------------------------------------------------------------------
    def start(self, workers: int = 1, pinned: bool = True) -> Server:
        port = free_port()
        command = [
            str(self.ctx.venv_bin / "glucodiary"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        server = self.procs.start(
            name=f"glucodiary serve --workers {workers}",
            command=command,
            port=port,
            env=diary_env(self.ctx),
            log_path=self.ctx.scratch / f"openloop-{port}.server.log",
            cpu=self.server_cpu if pinned else None,
            cwd=self.ctx.repo,
        )
        if workers > 1:
            time.sleep(3)  # every worker imports the app before it accepts
        return server

    def _python(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [self.ctx.python, *args],
            cwd=self.ctx.repo,
            env=diary_env(self.ctx),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed:\n" + "\n".join(done.stderr.strip().splitlines()[-8:])
            )
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def people(self) -> Path:
        """The mix's participants (seeded once), with fresh tokens, as a file for the load generator."""
        if self.tag is None:
            started = time.monotonic()
            seeded = self._python(
                "-m",
                "bench.seed_diary",
                "--participants",
                str(self.settings.participants),
                "--entries-each",
                str(self.settings.entries_each),
            )
            self.tag = str(seeded["tag"])
            people = seeded["people"]
            self.say(
                f"seeded {len(people)} participants x {self.settings.entries_each} readings "
                f"in {time.monotonic() - started:.0f} s"
            )
        else:
            people = self._python("-m", "bench.seed_diary", "--tokens-for", self.tag)["people"]
        path = self.ctx.scratch / "mix_people.txt"
        path.write_text("".join(f"{pid} {token}\n" for pid, token in people))
        return path

    def target(self, server: Server, people: Path, workers: int = 1) -> Target:
        def pids() -> list[int]:
            if workers == 1:
                return [server.pid]
            return [p for p in _descendants(server.popen.pid) if p != server.popen.pid]

        return Target(server.port, people, self.ctx.scratch, self.load_cpu, pids)

    # ---- sections --------------------------------------------------------------------------------------
    def run(self, sections: set[str]) -> None:
        _glucodiary_migrate(self.ctx)  # at head already when wrk scenarios ran: then it does nothing
        if sections & {"openloop", "dense", "soak"}:
            server = self.start()
            try:
                target = self.target(server, self.people())
                drive(target, duration_s=10, rate=20)  # warm-up: imports, prepared statements, pools
                if "openloop" in sections or "soak" in sections:
                    self.openloop(server, target)
                if "openloop" in sections:
                    self.floor_tail(target.people_file)
                if "dense" in sections:
                    self.dense(server)
                if "soak" in sections and self.capacity:
                    self.soak(server, self.target(server, self.people()))
            finally:
                self.procs.stop(server)
        if "floor" in sections and "openloop" not in sections:  # the floor alone: no participant needed
            people = self.ctx.scratch / "floor_people.txt"
            people.write_text(f"{uuid.uuid4()} no-token\n")
            self.floor_tail(people)
        if "workers" in sections:
            self.workers()
        if "reports" in sections:
            from bench import reports

            reports.section(self.ctx, self.procs, self.checks, self.say, self.server_cpu, self.load_cpu)

    def openloop(self, server: Server, target: Target) -> None:
        s, c = self.settings, self.checks
        checkwrk.compare(self, server, target, c)
        service = service_times(target, s.service_seconds, self.say)
        capacity = find_capacity(target, s.capacity_seconds, self.say)
        self.capacity = capacity.rate or None
        c.figures["service_ms"] = {k: f.p50 for k, f in service.items()}
        c.figures["capacity"] = {
            "rate": capacity.rate,
            "closed_rps": capacity.closed_rps,
            "steps": capacity.steps,
        }
        c.add(
            "mix capacity C (open loop, 1 worker)",
            f"{capacity.rate:.0f} req/s",
            "highest rate without error or growing backlog",
            None,
        )
        if not capacity.rate:
            c.add("the mix at 0.5 x C", "not run: no rate was served", "", False)
            return
        half = 0.5 * capacity.rate
        reset_peak_rss(server.pid)
        run = drive(target, duration_s=s.half_seconds, rate=half, seed=99)
        peak = memory_kib(server.pid).get("VmHWM")
        self.say(
            f"0.5 x C = {half:.0f} req/s for {s.half_seconds:g} s: {len(run.samples)} requests, "
            f"{run.errors} errors; sender late p99 {run.sender_late_ms.get('p99', 0):.2f} ms"
        )
        c.add(
            f"errors at 0.5 x C ({half:.0f} req/s, {s.half_seconds:g} s)",
            f"{run.errors}",
            "0",
            run.errors == 0,
        )
        late = run.sender_late_ms
        c.add(
            "load generator's own lateness at 0.5 x C (p50 / p99)",
            f"{late.get('p50', 0):.2f} / {late.get('p99', 0):.2f} ms",
            "small against the p99s above, or the client was starved",
        )
        for example in run.error_examples:
            self.say(f"  error: {example}")
        c.figures["half_capacity"] = _kind_figures(run)
        for kind in MIX:
            f, base = run.figures(kind), service[kind].p50
            if f.p99 is None or base is None:
                c.add(f"{kind} at 0.5 x C", "not measured", "", False)
                continue
            c.add(
                f"{kind} p99 at 0.5 x C ({f.count} req)",
                f"{f.p99:.1f} ms = {f.p99 / base:.1f} x S (S {base:.1f} ms)",
                "< 4 x S",
                f.p99 < 4 * base,
            )
            assert f.p999 is not None
            c.add(
                f"{kind} p99.9 at 0.5 x C",
                f"{f.p999:.1f} ms = {f.p999 / base:.1f} x S",
                "< 10 x S",
                f.p999 < 10 * base,
            )
        c.add(
            "server RSS under the mix (peak, 1 worker)",
            f"{peak / MIB:.1f} MiB" if peak else "not measured",
            "< 150 MiB",
            peak is not None and peak < 150 * MIB,
        )

    def floor_tail(self, people: Path) -> None:
        """The open-loop test of the mix on the stack's floor (bench/apps.py: one INSERT through FastAPI and an
        AsyncSession, nothing else): its p99 at half its own capacity against its own S is what queueing on one
        single-threaded worker costs before any work of the service's; the mix's tail targets read against it."""
        s, c = self.settings, self.checks
        port = free_port()
        server = self.procs.start(
            name="stack_floor (open loop)",
            command=STACK_FLOOR_SERVER.command(self.ctx, port),
            port=port,
            env=STACK_FLOOR_SERVER.env(self.ctx),
            log_path=self.ctx.scratch / f"floor-{port}.server.log",
            cpu=self.server_cpu,
            cwd=self.ctx.repo,
        )
        try:
            target = Target(port, people, self.ctx.scratch, self.load_cpu, lambda: [server.pid])
            only = {FLOOR: 1.0}
            drive(target, duration_s=5, rate=20, kinds=only)  # warm-up: pool, prepared statements
            service = service_times(target, s.service_seconds, self.say, kinds=(FLOOR,))[FLOOR].p50
            capacity = find_capacity(target, s.capacity_seconds, self.say, kinds=only)
            if not capacity.rate or not service:
                c.add("floor: stack_floor at 0.5 x its C", "not run: no rate was served", "", None)
                return
            half = 0.5 * capacity.rate
            run = drive(target, duration_s=min(s.half_seconds, 60.0), rate=half, seed=99, kinds=only)
            f = run.figures(FLOOR)
            c.add(
                "floor: stack_floor capacity (open loop, 1 worker)", f"{capacity.rate:.0f} req/s", "-", None
            )
            if f.p99 is None or f.p999 is None:
                c.add("floor: stack_floor p99 at 0.5 x its C", "not measured", "", None)
                return
            c.add(
                f"floor: stack_floor p99 / p99.9 at 0.5 x its C ({f.count} req, {run.errors} errors)",
                f"{f.p99:.1f} / {f.p999:.1f} ms = {f.p99 / service:.1f} / {f.p999 / service:.1f} x its S "
                f"({service:.1f} ms)",
                "what queueing alone costs (the mix's targets: < 4 x S, < 10 x S)",
                None,
            )
        finally:
            self.procs.stop(server)

    def dense(self, server: Server) -> None:
        """The 1,000-entry batch five times into the same two days of one participant."""
        seeded = self._python("-m", "bench.seed_diary", "--participants", "1")
        path = f"/api/v1/participants/{seeded['participant_id']}/entries/batch"
        headers = {"Authorization": f"Bearer {seeded['token']}", "Content-Type": "application/json"}
        times = []
        for number in range(1, self.settings.dense_batches + 1):
            entries = [
                {
                    "id": str(uuid.uuid4()),
                    "kind": "glucose",
                    "value": 5.8,
                    "unit": "mmol/L",
                    "context": "random",
                    "occurred_at": f"2025-03-{14 + i % 2}T{6 + i // 2 % 16:02d}:{(i * 7) % 60:02d}:00+01:00",
                }
                for i in range(1000)
            ]
            body = json.dumps({"entries": entries})
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
            finally:
                connection.close()
            times.append(time.perf_counter() - started)
            self.say(f"dense days: batch {number}: {times[-1]:.2f} s (status {answer.status})")
            if answer.status != 200:
                self.checks.add("dense days", f"batch {number} answered {answer.status}", "200", False)
                return
        self.checks.figures["dense_days_s"] = times
        self.checks.add("dense days: 1,000-entry batches 1..n (s)", ", ".join(f"{t:.2f}" for t in times))
        self.checks.ratio(f"dense days: batch {len(times)} / batch 1", times[-1], times[0], 1.2, above=False)

    def soak(self, server: Server, target: Target) -> None:
        from bench import soak

        assert self.capacity
        soak.run(self, server, target, 0.5 * self.capacity)

    def workers(self) -> None:
        """The mix on one worker and on two, same invocation, the server free to use every CPU."""
        found: dict[int, tuple[Capacity, LoadRun | None]] = {}
        for workers in (1, 2):
            server = self.start(workers, pinned=False)
            try:
                target = self.target(server, self.people(), workers)
                drive(target, duration_s=5, rate=20)
                capacity = find_capacity(target, self.settings.capacity_seconds, self.say)
                common = 0.5 * (found[1][0].rate if 1 in found else capacity.rate)
                run = (
                    drive(target, duration_s=2 * self.settings.capacity_seconds, rate=common)
                    if common
                    else None
                )
                found[workers] = (capacity, run)
            finally:
                self.procs.stop(server)
        cpus = os.cpu_count()
        (one, run1), (two, run2) = found[1], found[2]
        self.checks.figures["workers"] = {"cpus": cpus, "capacity_1": one.rate, "capacity_2": two.rate}
        self.checks.add(
            f"mix capacity, 1 worker vs 2 ({cpus} CPUs, server unpinned)",
            f"{one.rate:.0f} vs {two.rate:.0f} req/s"
            + (f" ({two.rate / one.rate:.2f} x)" if one.rate else ""),
            "figure (on 2 CPUs shared with PostgreSQL and the load: the cost of sharing)",
            None,
        )
        if run1 and run2:
            f1, f2 = run1.figures(), run2.figures()
            self.checks.add(
                f"mix p99 at {run1.rate or 0:.0f} req/s, 1 worker vs 2",
                f"{f1.p99 or 0:.1f} vs {f2.p99 or 0:.1f} ms; errors {f1.errors} vs {f2.errors}",
            )


def _kind_figures(run: LoadRun) -> dict[str, Any]:
    return {kind: run.figures(kind).__dict__ for kind in MIX}


async def count_stored(dsn: str, ids: list[str]) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        stored = 0
        for first in range(0, len(ids), 10000):
            chunk = [uuid.UUID(i) for i in ids[first : first + 10000]]
            stored += await connection.fetchval(
                "SELECT count(*) FROM diary_entry WHERE id = ANY($1::uuid[])", chunk
            )
        return int(stored)
    finally:
        await connection.close()


def stored_count(dsn: str, ids: list[str]) -> int:
    return asyncio.run(count_stored(dsn, ids))
