"""Measuring wrk scenarios: one at a time, or two side by side with their runs interleaved (A B A B ...).

A pair compares a scenario with its variant without a speed device (bench/devices.py): both servers are up
at once (pinned to the same CPU, the idle one costing nothing) and their runs alternate, so the noise of a
shared machine (other processes, autovacuum) falls on both alike instead of on whichever ran second.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import report
from bench.procs import Processes, Server, free_port, memory_kib, reset_peak_rss
from bench.scenarios import RunContext, Scenario, SetupResult
from bench.wrk import WrkResult, run_wrk

if TYPE_CHECKING:
    from bench.run import Settings

Say = Callable[[str], None]


def mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


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


def unavailable(scenario: Scenario, ctx: RunContext, prepared: dict[str, str | None]) -> str | None:
    """Why the scenario's server cannot run (checked and prepared once per server), or None."""
    spec = scenario.server
    if spec.name not in prepared:
        reason = spec.unavailable(ctx)
        if reason is None and spec.prepare is not None:
            try:
                spec.prepare(ctx)
            except Exception as exc:
                reason = str(exc)
        prepared[spec.name] = reason
    return prepared[spec.name]


@dataclass
class Live:
    """A scenario's server, up and set up, with the request wrk repeats."""

    scenario: Scenario
    server: Server
    result: report.ScenarioResult
    path: str
    headers: dict[str, str]
    body_file: str | None
    wrk_env: dict[str, str]
    settings: Settings

    @classmethod
    def start(cls, scenario: Scenario, ctx: RunContext, procs: Processes, settings: Settings) -> Live:
        spec = scenario.server
        port = free_port()
        server = procs.start(
            name=spec.name,
            command=spec.command(ctx, port),
            port=port,
            env=spec.env(ctx),
            log_path=ctx.scratch / f"{scenario.name}-{port}.server.log",  # a pair runs a scenario twice
            cpu=settings.server_cpu,
            cwd=ctx.repo,
        )
        try:
            hooked = scenario.setup(ctx, server.base_url) if scenario.setup is not None else SetupResult()
            request = hooked if isinstance(hooked, SetupResult) else SetupResult(headers=hooked)
            headers = {**scenario.headers, **request.headers}
            path = request.fill(scenario.path)
            body = request.fill(scenario.body) if scenario.body is not None else None
            body_file = None
            if body is not None:
                body_file = ctx.scratch / f"{scenario.name}.body"
                body_file.write_text(body)
            probe(server, scenario, path, body, headers)
        except BaseException:
            procs.stop(server)
            raise
        people = request.values.get("people_file")
        return cls(
            scenario=scenario,
            server=server,
            result=report.ScenarioResult(scenario.name, scenario.description, spec.name),
            path=path,
            headers=headers,
            body_file=str(body_file) if body_file else None,
            wrk_env={"BENCH_DIARY_PEOPLE": people} if people else {},
            settings=settings,
        )

    def drive(self, duration_s: float) -> WrkResult:
        return run_wrk(
            url=self.server.base_url + self.path,
            lua=self.scenario.lua,
            method=self.scenario.method,
            body_file=Path(self.body_file) if self.body_file else None,
            headers=self.headers,
            duration_s=duration_s,
            connections=self.scenario.connections or self.settings.connections,
            threads=self.settings.threads,
            cpu=self.settings.wrk_cpu,
            env=self.wrk_env,
        )

    def warm_up(self, say: Say) -> None:
        say(
            f"{self.scenario.name}: server pid {self.server.pid} on port {self.server.port}; "
            f"warming up {self.settings.warmup_s:g} s"
        )
        if self.settings.warmup_s > 0:
            self.drive(self.settings.warmup_s)
        self.result.startup_peak_rss_mib = mib(memory_kib(self.server.pid).get("VmHWM"))

    def run_once(self, index: int, say: Say) -> None:
        reset_peak_rss(self.server.pid)
        figures = self.drive(self.settings.duration_s)
        peak = mib(memory_kib(self.server.pid).get("VmHWM"))
        if self.server.popen.poll() is not None or peak is None:
            raise RuntimeError(f"the server stopped during run {index}")
        self.result.runs.append(
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
            f"{self.scenario.name}: run {index}/{self.settings.runs}: {figures.rps:.0f} req/s, "
            f"p50 {figures.p50_us / 1000:.2f} ms, p99 {figures.p99_us / 1000:.2f} ms, peak RSS {peak:.1f} MiB"
        )
        if figures.error_count:
            self.result.status = "errors"
            self.result.message = f"wrk counted errors (status = answers >= 400): {figures.errors}"
            say(f"{self.scenario.name}: WARNING {self.result.message}")


def _skipped(scenario: Scenario, reason: str, say: Say) -> report.ScenarioResult:
    result = report.ScenarioResult(scenario.name, scenario.description, scenario.server.name)
    result.status, result.message = "skipped", reason
    say(f"{scenario.name}: skipped: {reason}")
    return result


def _failed(result: report.ScenarioResult, exc: Exception, say: Say) -> None:
    result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
    say(f"{result.name}: failed: {result.message}")


def measure(
    scenario: Scenario,
    ctx: RunContext,
    procs: Processes,
    settings: Settings,
    prepared: dict[str, str | None],
    say: Say,
) -> report.ScenarioResult:
    reason = unavailable(scenario, ctx, prepared)
    if reason is not None:
        return _skipped(scenario, reason, say)
    result = report.ScenarioResult(scenario.name, scenario.description, scenario.server.name)
    live = None
    try:
        live = Live.start(scenario, ctx, procs, settings)
        result = live.result
        live.warm_up(say)
        for index in range(1, settings.runs + 1):
            live.run_once(index, say)
    except Exception as exc:
        _failed(result, exc, say)
    finally:
        if live is not None:
            procs.stop(live.server)
    return result


def measure_pair(
    base: Scenario,
    variant: Scenario,
    ctx: RunContext,
    procs: Processes,
    settings: Settings,
    prepared: dict[str, str | None],
    say: Say,
) -> tuple[report.ScenarioResult, report.ScenarioResult]:
    """(base, variant) measured side by side, their runs alternating; the base's result is named
    `<base> (paired with <variant>)`."""
    for scenario in (base, variant):
        reason = unavailable(scenario, ctx, prepared)
        if reason is not None:
            return _skipped(base, reason, say), _skipped(variant, reason, say)
    lives: list[Live] = []
    results = (
        report.ScenarioResult(base.name, base.description, base.server.name),
        report.ScenarioResult(variant.name, variant.description, variant.server.name),
    )
    try:
        for scenario in (base, variant):
            lives.append(Live.start(scenario, ctx, procs, settings))
        results = (lives[0].result, lives[1].result)
        for live in lives:
            live.warm_up(say)
        for index in range(1, settings.runs + 1):
            for live in lives if index % 2 else reversed(lives):
                live.run_once(index, say)
    except Exception as exc:
        for result in results:
            _failed(result, exc, say)
    finally:
        for live in lives:
            procs.stop(live.server)
    return results
