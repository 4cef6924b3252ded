"""Benchmark driver: for each scenario start its server on one core, drive it with wrk on another, report.

Run it through `bash bench/run.sh` (or `make bench`). It never fails a build: whatever goes wrong is printed
and the exit status is 0. Settings come from the environment; see bench/README.md.
"""

from __future__ import annotations

import http.client
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import database, report
from bench.devices import with_devices
from bench.procs import Processes, Server, free_port, memory_kib, reset_peak_rss
from bench.scenarios import BASELINE, SCENARIOS, RunContext, Scenario, ServerSpec, SetupResult
from bench.suite import SECTIONS, Suite
from bench.targets import Checks, wrk_checks
from bench.wrk import WrkResult, run_wrk

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


def probe(server: Server, scenario: Scenario, path: str, body: str | None, headers: dict[str, str]) -> None:
    """One request before measuring, so a broken scenario reports its error instead of fast 4xx figures."""
    if body is not None:
        body = body.replace("__UUID__", str(uuid.uuid4()))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(scenario.method, path, body=body, headers=headers)
        answer = connection.getresponse()
        text = answer.read(300).decode(errors="replace")
    finally:
        connection.close()
    if answer.status not in scenario.expect_status:
        raise RuntimeError(
            f"{scenario.method} {path} answered {answer.status}, expected "
            f"{'/'.join(map(str, scenario.expect_status))}: {text}"
        )


def mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def measure(
    scenario: Scenario, ctx: RunContext, procs: Processes, settings: Settings, prepared: dict[str, str | None]
) -> report.ScenarioResult:
    spec: ServerSpec = scenario.server
    result = report.ScenarioResult(scenario.name, scenario.description, spec.name)
    if spec.name not in prepared:
        reason = spec.unavailable(ctx)
        if reason is None and spec.prepare is not None:
            try:
                spec.prepare(ctx)
            except Exception as exc:
                reason = str(exc)
        prepared[spec.name] = reason
    if prepared[spec.name] is not None:
        result.status, result.message = "skipped", prepared[spec.name]
        say(f"{scenario.name}: skipped: {result.message}")
        return result

    port = free_port()
    log_path = ctx.scratch / f"{scenario.name}.server.log"
    server: Server | None = None
    try:
        server = procs.start(
            name=spec.name,
            command=spec.command(ctx, port),
            port=port,
            env=spec.env(ctx),
            log_path=log_path,
            cpu=settings.server_cpu,
            cwd=ctx.repo,
        )
        prepared_request = SetupResult()
        if scenario.setup is not None:
            hooked = scenario.setup(ctx, server.base_url)
            prepared_request = hooked if isinstance(hooked, SetupResult) else SetupResult(headers=hooked)
        headers = {**scenario.headers, **prepared_request.headers}
        path = prepared_request.fill(scenario.path)
        body = prepared_request.fill(scenario.body) if scenario.body is not None else None
        body_file = None
        if body is not None:
            body_file = ctx.scratch / f"{scenario.name}.body"
            body_file.write_text(body)
        probe(server, scenario, path, body, headers)

        def drive(duration_s: float) -> WrkResult:
            return run_wrk(
                url=server.base_url + path,
                lua=scenario.lua,
                method=scenario.method,
                body_file=body_file,
                headers=headers,
                duration_s=duration_s,
                connections=scenario.connections or settings.connections,
                threads=settings.threads,
                cpu=settings.wrk_cpu,
            )

        say(f"{scenario.name}: server pid {server.pid} on port {port}; warming up {settings.warmup_s:g} s")
        if settings.warmup_s > 0:
            drive(settings.warmup_s)
        result.startup_peak_rss_mib = mib(memory_kib(server.pid).get("VmHWM"))
        for index in range(1, settings.runs + 1):
            reset_peak_rss(server.pid)
            figures = drive(settings.duration_s)
            peak = mib(memory_kib(server.pid).get("VmHWM"))
            if server.popen.poll() is not None or peak is None:
                raise RuntimeError(f"the server stopped during run {index}")
            result.runs.append(
                report.RunFigures(
                    rps=figures.rps,
                    p50_ms=figures.p50_us / 1000,
                    p99_ms=figures.p99_us / 1000,
                    peak_rss_mib=peak,
                    requests=figures.requests,
                    errors=figures.errors,
                )
            )
            say(
                f"{scenario.name}: run {index}/{settings.runs}: {figures.rps:.0f} req/s, "
                f"p50 {figures.p50_us / 1000:.2f} ms, p99 {figures.p99_us / 1000:.2f} ms, "
                f"peak RSS {peak:.1f} MiB"
            )
            if figures.error_count:
                result.status = "errors"
                result.message = f"wrk counted errors (status = answers >= 400): {figures.errors}"
                say(f"{scenario.name}: WARNING {result.message}")
    except Exception as exc:
        result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
        say(f"{scenario.name}: failed: {result.message}")
    finally:
        if server is not None:
            procs.stop(server)
    return result


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
        prepared: dict[str, str | None] = {}
        results = [measure(s, ctx, procs, settings, prepared) for s in scenarios]
        wrk_checks(checks, results)
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
