"""Driving bench/loadgen.py from the benchmark: one measured run, service times, the capacity search.

A run is the load generator in its own process, pinned to its CPU; while it runs, the server's resident
memory is sampled. Its samples are (kind, scheduled ms since start, latency ms from the scheduled time, status).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.mix import MIX
from bench.procs import memory_kib, pinned

RSS_EVERY_S = 2.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..100) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass(frozen=True)
class Figures:
    count: int
    errors: int
    p50: float | None
    p99: float | None
    p999: float | None
    max: float | None


@dataclass
class LoadRun:
    """One load generator run and what the driver saw meanwhile."""

    rate: float | None  # offered requests/s (open loop), None for closed loop
    duration_s: float
    kinds: list[str]
    samples: list[list[float]]
    unanswered: int
    sender_late_ms: dict[str, float]
    connections_used: int
    acknowledged: int
    error_examples: list[str]
    rss_kib: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, summed VmRSS)
    ids_file: Path | None = None

    def figures(self, kind: str | None = None, start_s: float = 0.0, end_s: float | None = None) -> Figures:
        index = self.kinds.index(kind) if kind is not None else None
        end_ms = float("inf") if end_s is None else end_s * 1e3
        chosen = [
            s for s in self.samples if (index is None or s[0] == index) and start_s * 1e3 <= s[1] < end_ms
        ]
        ok = [s[2] for s in chosen if 200 <= s[3] < 300]
        return Figures(
            count=len(chosen),
            errors=len(chosen) - len(ok),
            p50=percentile(ok, 50),
            p99=percentile(ok, 99),
            p999=percentile(ok, 99.9),
            max=max(ok) if ok else None,
        )

    @property
    def errors(self) -> int:
        return self.unanswered + sum(1 for s in self.samples if not 200 <= s[3] < 300)

    def served(self) -> tuple[bool, str]:
        """Whether the offered rate was served: no error, no answer missing, no growing backlog.

        A backlog that grows shows as latency rising through the run: the median of the last third of the
        schedule may be at most twice that of the first third, plus 10 ms.
        """
        if self.errors:
            return False, f"{self.errors} error(s)"
        third = self.duration_s / 3
        first, last = self.figures(end_s=third), self.figures(start_s=2 * third)
        if first.p50 is None or last.p50 is None:
            return False, "no answers"
        if last.p50 > 2 * first.p50 + 10:
            return (
                False,
                f"backlog growing: median {first.p50:.1f} ms in the first third, {last.p50:.1f} ms in the last",
            )
        return True, f"median {first.p50:.1f} -> {last.p50:.1f} ms, p99 {self.figures().p99:.1f} ms"

    @property
    def answered_rps(self) -> float:
        return sum(1 for s in self.samples if 200 <= s[3] < 300) / self.duration_s


@dataclass(frozen=True)
class Target:
    """Where the load goes: the server's port and processes (for memory), who sends, and on which CPU."""

    port: int
    people_file: Path
    scratch: Path
    cpu: int | None
    rss_pids: Callable[[], list[int]]


def drive(
    target: Target,
    *,
    duration_s: float,
    kinds: dict[str, float] | None = None,
    rate: float | None = None,
    concurrency: int = 1,
    seed: int = 1,
    ids: bool = False,
    timeout_s: float = 10.0,
    max_connections: int = 64,
) -> LoadRun:
    """One run: open loop at `rate` when given, else closed loop with `concurrency` requests in flight."""
    name = f"load-{time.monotonic_ns()}"
    result_file = target.scratch / f"{name}.json"
    ids_file = target.scratch / f"{name}.ids" if ids else None
    config: dict[str, Any] = {
        "port": target.port,
        "people_file": str(target.people_file),
        "mode": "open" if rate is not None else "closed",
        "rate": rate,
        "concurrency": concurrency,
        "duration_s": duration_s,
        "kinds": kinds or MIX,
        "seed": seed,
        "timeout_s": timeout_s,
        "max_connections": max_connections,
        "result_file": str(result_file),
        "ids_file": str(ids_file) if ids_file else None,
    }
    config_file = target.scratch / f"{name}.config.json"
    config_file.write_text(json.dumps(config))
    command = pinned([sys.executable, "-m", "bench.loadgen", str(config_file)], target.cpu)
    started = time.monotonic()
    deadline = started + duration_s + timeout_s + 30
    rss: list[tuple[float, int]] = []
    with subprocess.Popen(
        command, cwd=Path(__file__).resolve().parent.parent, stderr=subprocess.PIPE
    ) as loader:
        while loader.poll() is None:
            if time.monotonic() > deadline:
                loader.kill()
                raise RuntimeError("the load generator overran its time and was stopped")
            total = sum(memory_kib(pid).get("VmRSS", 0) for pid in target.rss_pids())
            rss.append((time.monotonic() - started, total))
            try:
                loader.wait(timeout=RSS_EVERY_S)
            except subprocess.TimeoutExpired:
                pass
        errors = loader.stderr.read().decode(errors="replace") if loader.stderr else ""
    if loader.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"the load generator failed ({loader.returncode}): {errors.strip()[-800:]}")
    raw = json.loads(result_file.read_text())
    return LoadRun(
        rate=rate,
        duration_s=duration_s,
        kinds=raw["kinds"],
        samples=raw["samples"],
        unanswered=raw["unanswered"],
        sender_late_ms=raw["sender_late_ms"],
        connections_used=raw["connections_used"],
        acknowledged=raw["acknowledged"],
        error_examples=raw["error_examples"],
        rss_kib=rss,
        ids_file=ids_file,
    )


def service_times(
    target: Target, seconds: float, say: Callable[[str], None], kinds: Sequence[str] = tuple(MIX)
) -> dict[str, Figures]:
    """Each kind's latency with one request in flight (closed loop, one connection): its service time S."""
    found = {}
    for kind in kinds:
        run = drive(target, duration_s=seconds, kinds={kind: 1.0}, concurrency=1)
        found[kind] = run.figures(kind)
        say(f"service time of {kind}: p50 {found[kind].p50 or 0:.2f} ms over {found[kind].count} requests")
    return found


@dataclass
class Capacity:
    rate: float  # the highest offered rate served (0 when none was)
    closed_rps: float  # the closed-loop throughput the search started from
    steps: list[tuple[float, bool, str]]


def find_capacity(
    target: Target,
    seconds: float,
    say: Callable[[str], None],
    max_steps: int = 8,
    pause_s: float = 2.0,
    kinds: dict[str, float] | None = None,
) -> Capacity:
    """The highest offered rate of the mix served without error or growing backlog, by a short search.

    Start from the closed-loop throughput X (16 requests always in flight: what the server manages flat
    out) at 0.9 X; step up by a quarter while served, or down by a fifth while not; then one bisection
    between the last served and the first refused rate (resolution about 12 %), within `max_steps` runs.
    """
    closed = drive(target, duration_s=min(seconds, 8.0), concurrency=16, kinds=kinds)
    x = closed.answered_rps
    say(f"capacity search: closed loop with 16 in flight answered {x:.0f} req/s")
    steps: list[tuple[float, bool, str]] = []

    def attempt(rate: float) -> bool:
        time.sleep(pause_s)  # let the previous step's queue drain and the server settle
        run = drive(target, duration_s=seconds, rate=rate, seed=len(steps) + 7, kinds=kinds)
        ok, why = run.served()
        steps.append((rate, ok, why))
        say(f"capacity search: {rate:.0f} req/s offered: {'served' if ok else 'NOT served'} ({why})")
        for example in run.error_examples[:2]:
            say(f"  for example: {example}")
        return ok

    good, bad = 0.0, float("inf")
    rate = 0.9 * x
    while len(steps) < max_steps - 1 and rate > 0 and not (good and bad < float("inf")):
        if attempt(rate):
            good = rate
            rate *= 1.25
        else:
            bad = rate
            rate *= 0.8
    if good and bad < float("inf") and attempt((good + bad) / 2):
        good = (good + bad) / 2
    return Capacity(rate=good, closed_rps=x, steps=steps)
