"""Benchmark driver: for each scenario start its server on one core, drive it with wrk on another, report.

Run it through `bash bench/run.sh` (or `make bench`). It never fails a build: whatever goes wrong is printed
and the exit status is 0. Settings come from the environment; see bench/README.md.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import database, report
from bench.devices import BASE_OF, with_devices
from bench.measure import measure, measure_pair
from bench.procs import Processes
from bench.scenarios import BASELINE, SCENARIOS, RunContext, Scenario
from bench.suite import SECTIONS, Suite
from bench.targets import Checks, wrk_checks

REPO = Path(__file__).resolve().parent.parent
RESULTS_PATH = REPO / "bench" / "results" / "latest.json"
MIN_RUNS_FOR_MEDIAN = 3


@dataclass(frozen=True)
class Settings:
    duration_s: float
    warmup_s: float
    connections: int
    threads: int
    runs: int
    scenarios: tuple[str, ...]
    server_cpu: int | None
    wrk_cpu: int | None
    server_dsn: str

    @classmethod
    def from_env(cls, argv: list[str]) -> Settings:
        env = os.environ
        wanted = tuple(argv) or tuple(n for n in env.get("BENCH_SCENARIOS", "").replace(",", " ").split())
        cpus = sorted(os.sched_getaffinity(0))
        server_cpu, wrk_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
        return cls(
            duration_s=float(env.get("BENCH_DURATION", "10")),
            warmup_s=float(env.get("BENCH_WARMUP", "2")),
            connections=int(env.get("BENCH_CONNECTIONS", "32")),
            threads=int(env.get("BENCH_THREADS", "1")),
            runs=max(1, int(env.get("BENCH_RUNS", "3"))),
            scenarios=wanted,
            server_cpu=int(env["BENCH_SERVER_CPU"]) if "BENCH_SERVER_CPU" in env else server_cpu,
            wrk_cpu=int(env["BENCH_WRK_CPU"]) if "BENCH_WRK_CPU" in env else wrk_cpu,
            server_dsn=env.get("BENCH_PG", database.DEFAULT_SERVER_DSN),
        )


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def select(settings: Settings) -> tuple[list[Scenario], set[str]]:
    """The wrk scenarios and the open-loop sections (bench/suite.py) asked for; nothing named: all of them."""
    every = with_devices(SCENARIOS)
    known = {s.name: s for s in every}
    unknown = [n for n in settings.scenarios if n not in known and n not in SECTIONS]
    if unknown:
        say(f"unknown scenario(s) {', '.join(unknown)} ignored; known: {', '.join([*known, *SECTIONS])}")
    if not settings.scenarios:
        return every, set(SECTIONS)
    names = {n for n in settings.scenarios if n in known}
    if names:
        names.add(BASELINE)  # every ratio needs this run's own baseline
    return [s for s in every if s.name in names], {n for n in settings.scenarios if n in SECTIONS}


def measure_all(
    scenarios: list[Scenario], ctx: RunContext, procs: Processes, settings: Settings
) -> tuple[list[report.ScenarioResult], dict[str, report.ScenarioResult]]:
    """Every scenario's result, in order, and for each variant without a device, its base scenario measured
    side by side with it (bench/measure.py), by the variant's name."""
    prepared: dict[str, str | None] = {}
    by_name = {s.name: s for s in SCENARIOS}
    results, paired = [], {}
    for scenario in scenarios:
        base = BASE_OF.get(scenario.name)
        if base is None:
            results.append(measure(scenario, ctx, procs, settings, prepared, say))
            continue
        with_device, without_device = measure_pair(
            by_name[base], scenario, ctx, procs, settings, prepared, say
        )
        results.append(without_device)
        paired[scenario.name] = with_device
    return results, paired


def open_loop(
    ctx: RunContext, procs: Processes, settings: Settings, checks: Checks, sections: set[str]
) -> None:
    """The open-loop sections; a failure is reported and ends only them (the wrk figures still print)."""
    suite = Suite(ctx, procs, checks, say, settings.server_cpu, settings.wrk_cpu)
    started = time.monotonic()
    try:
        suite.run(sections)
    except Exception as exc:
        say(f"open-loop sections stopped: {type(exc).__name__}: {exc}")
        checks.add(
            "open-loop sections", f"stopped: {type(exc).__name__}: {str(exc)[-300:]}", "complete", False
        )
    say(f"open-loop sections ({', '.join(sorted(sections))}) took {time.monotonic() - started:.0f} s")


def meta(settings: Settings, pg_version: str) -> dict[str, object]:
    def output(*command: str, any_status: bool = False) -> str | None:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False, cwd=REPO)
        except OSError:
            return None
        lines = (done.stdout or done.stderr).strip().splitlines()
        return lines[0] if lines and (any_status or done.returncode == 0) else None

    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "settings": asdict(settings),
        "git_commit": output("git", "rev-parse", "HEAD"),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "wrk": output("wrk", "--version", any_status=True),  # it prints its version, then exits 1
        "cpus": os.cpu_count(),
    }


def _main(argv: list[str]) -> None:
    settings = Settings.from_env(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed (bash bench/run.sh installs it with apt-get); nothing measured")
        return
    if settings.runs < MIN_RUNS_FOR_MEDIAN:
        say(f"BENCH_RUNS={settings.runs}: fewer than {MIN_RUNS_FOR_MEDIAN} runs make a weak median")
    if settings.server_cpu is None:
        say("fewer than 2 CPUs available: server and wrk are not pinned and share a core")
    else:
        say(f"server pinned to CPU {settings.server_cpu}, wrk to CPU {settings.wrk_cpu}")
    say(
        f"{settings.runs} run(s) x {settings.duration_s:g} s per scenario, "
        f"{settings.connections} connections, "
        f"{settings.threads} wrk thread(s), warm-up {settings.warmup_s:g} s"
    )
    scenarios, sections = select(settings)
    checks = Checks()
    pg_version = database.ensure_running(settings.server_dsn)
    procs = Processes()
    scratch = Path(tempfile.mkdtemp(prefix="glucodiary-bench-"))
    database_name = None
    try:
        database_name = database.create_database(settings.server_dsn)
        say(f"PostgreSQL {pg_version}, throwaway database {database_name}")
        ctx = RunContext(
            repo=REPO,
            venv_bin=Path(sys.executable).parent,
            server_dsn=settings.server_dsn,
            database=database_name,
            scratch=scratch,
        )
        results, paired = measure_all(scenarios, ctx, procs, settings)
        wrk_checks(checks, results, paired)
        if sections:
            open_loop(ctx, procs, settings, checks, sections)
    finally:
        procs.stop_all()
        if database_name is not None:
            try:
                database.drop_database(settings.server_dsn, database_name)
            except Exception as exc:
                say(f"could not drop database {database_name}: {exc}")
        shutil.rmtree(scratch, ignore_errors=True)
    baseline = next((r for r in results if r.name == BASELINE and r.measured), None)
    if results:
        print()
        print(report.table(results, baseline, settings.runs))
    print()
    print(checks.table())
    report.write_json(RESULTS_PATH, results, baseline, {**meta(settings, pg_version), **checks.as_json()})
    print(f"\nResults written to {RESULTS_PATH.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always returns 0 (a benchmark never fails a build)."""
    # Also when started in the background with SIGINT ignored: Ctrl-C or kill -INT must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    started = time.monotonic()
    try:
        _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        say("interrupted; the servers it started are stopped and its database dropped")
    except Exception as exc:
        say(f"stopped by an unexpected error, nothing more measured: {type(exc).__name__}: {exc}")
    say(f"done in {time.monotonic() - started:.0f} s (exit status 0 whatever happened)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
