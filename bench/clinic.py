"""The clinic dashboard's participant page under load: server time at a fixed offered rate, and page weight.

    .venv/bin/python -m bench.clinic [--rate 20] [--seconds 30] [--runs 3] [--days 90] [--sqlite]
    bash bench/run.sh clinic          # the same, as part of `make bench` or alone

Loads the demo study into a throwaway PostgreSQL database on 127.0.0.1:5432 (the production backend; dropped
afterwards), or with --sqlite into a throwaway SQLite file, serves it with one uvicorn worker, signs the demo
clinician in, and requests the participant page of the demo participant with the most diary entries (about
1,000 over 90 days) at `--rate` requests per second, whether or not earlier answers have come back (an open
loop: a slow answer does not slow the offered load, unlike wrk's closed loop), `--runs` times. Before each run
the sign-in page is offered at the same rate: the same stack and middleware with no query and a small
template, the floor the participant page is compared with in the same invocation. Server time is the
dashboard's own `Server-Timing: app;dur=` (routing, queries, template); client time adds HTTP on 127.0.0.1.
Page weight is the HTML with its chart data; the vendored static files (cached by the browser) are listed
apart. A benchmark: it prints figures, exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import database
from bench.openloop import percentile
from bench.procs import free_port
from core.demo import people as demo

STATIC = ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css")


async def _sign_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/clinic/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "no sign-in form"
    answer = await client.post(
        "/clinic/sign-in",
        data={
            "email": demo.CLINICIAN.email,
            "password": demo.CLINICIAN.password,
            "csrf_token": token.group(1),
        },
    )
    assert answer.status_code == 303, f"sign-in answered {answer.status_code}"


async def _busiest_participant(client: httpx.AsyncClient) -> tuple[str, str]:
    listed = (await client.get("/clinic/participants")).text
    ids = re.findall(r'href="/clinic/participants/([0-9a-f-]{36})">([^<]+)<', listed)
    best = ("", "", -1)
    for pid, code in ids:
        count = 0
        cursor: str | None = ""
        while cursor is not None:
            page = (
                await client.get(f"/clinic/participants/{pid}", params={"cursor": cursor} if cursor else {})
            ).text
            count += page.count("history</a>")
            found = re.search(r'cursor=([^"&]+)">Older entries', page)
            cursor = httpx.QueryParams(f"c={found.group(1)}")["c"] if found else None
        if count > best[2]:
            best = (pid, code, count)
    print(f"participant {best[1]}: {best[2]} diary entries (all kinds, voided ones included)")
    return best[0], best[1]


@dataclass
class Run:
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        if not self.server_ms:
            return f"{label}: nothing answered ({len(self.failures)} failed {self.failures[:3]})"
        s, c = self.server_ms, self.client_ms
        return (
            f"{label}: {len(s)} answered, {len(self.failures)} failed{' ' + str(self.failures[:3]) if self.failures else ''}; "
            f"server ms p50 {percentile(s, 50):.1f} p95 {percentile(s, 95):.1f} p99 {percentile(s, 99):.1f} "
            f"max {max(s):.1f}; client ms p50 {percentile(c, 50):.1f} p99 {percentile(c, 99):.1f}"
        )


async def _offer(client: httpx.AsyncClient, path: str, rate: float, seconds: float) -> Run:
    """`rate` x `seconds` requests, request i sent at start + i / rate whatever came back (open loop)."""
    run = Run()

    async def one() -> None:
        started = time.perf_counter()
        try:
            answer = await client.get(path)
        except httpx.HTTPError as exc:
            run.failures.append(type(exc).__name__)
            return
        run.client_ms.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            run.failures.append(str(answer.status_code))
            return
        timing = re.search(r"app;dur=([0-9.]+)", answer.headers.get("server-timing", ""))
        if timing:
            run.server_ms.append(float(timing.group(1)))
        run.sizes.append(len(answer.content))

    tasks = []
    begin = time.perf_counter()
    for n in range(int(rate * seconds)):  # bounded: rate x seconds requests, each at its own time
        delay = begin + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    _done, pending = await asyncio.wait(tasks, timeout=60)  # bounded: what is not back a minute later
    for task in pending:  # counts as unanswered
        task.cancel()
    run.failures.extend(["unanswered after the run + 60 s"] * len(pending))
    return run


async def _load(url: str, path: str, options: argparse.Namespace, cookies: httpx.Cookies) -> None:
    limits = httpx.Limits(max_connections=64)
    # the floor is asked for by a browser that is not signed in (a signed-in one is sent on to its first page)
    async with (
        httpx.AsyncClient(base_url=url, cookies=cookies, limits=limits, timeout=30) as client,
        httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as bare,
    ):
        alone = []
        for _ in range(10):  # warm-up, one at a time: the page's time without queueing
            answer = await client.get(path)
            timing = re.search(r"app;dur=([0-9.]+)", answer.headers.get("server-timing", ""))
            alone.append(float(timing.group(1)) if timing else float("nan"))
        print(f"one at a time (warm-up): server time ms {', '.join(f'{t:.0f}' for t in alone)}")
        print(f"offered {options.rate:g} req/s for {options.seconds:g} s per run, {options.runs} runs:")
        pages, floors = [], []
        for n in range(1, options.runs + 1):
            floors.append(await _offer(bare, "/clinic/sign-in", options.rate, options.seconds))
            print("  " + floors[-1].line(f"run {n} sign-in page (floor)"))
            pages.append(await _offer(client, path, options.rate, options.seconds))
            print("  " + pages[-1].line(f"run {n} participant page"))
        static = {}
        for name in STATIC:
            static[name] = len((await client.get(f"/clinic/static/vendor/{name}")).content)
    answered = [r for r in pages if r.server_ms]
    if answered:
        p99 = statistics.median(percentile(r.server_ms, 99) for r in answered)
        p50 = statistics.median(percentile(r.server_ms, 50) for r in answered)
        floor = [percentile(r.server_ms, 99) for r in floors if r.server_ms]
        ratio = (
            f", {p99 / statistics.median(floor):.1f} x the sign-in page's {statistics.median(floor):.1f} ms"
            if floor
            else ""
        )
        failed = sum(len(r.failures) for r in pages)
        verdict = "met" if p99 < 50 and not failed else "MISSED"
        print(
            f"participant page, median of {len(answered)} runs: server time p50 {p50:.1f} ms, p99 {p99:.1f} ms{ratio}; {failed} failed (target p99 < 50 ms: {verdict})"
        )
        weight = max(max(r.sizes) for r in answered) / 1024
        print(
            f"page weight (HTML with its chart data, uncompressed): {weight:.1f} kB (target < 200 kB: {'met' if weight < 200 else 'MISSED'})"
        )
    print(
        "vendored static files, cached, not counted: "
        + ", ".join(f"{k} {v / 1024:.1f} kB" for k, v in static.items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=90, choices=(14, 30, 90))
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument(
        "--pg", default=database.DEFAULT_SERVER_DSN, help="the PostgreSQL server (trust auth)"
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="glucodiary-clinic-bench-"))
    env = {**os.environ, "GLUCODIARY_DATA_DIR": str(folder), "GLUCODIARY_LOG_LEVEL": "WARNING"}
    env["GLUCODIARY_ENV"] = "development"  # plain http on 127.0.0.1: the session cookie is not Secure
    throwaway = None
    server = None
    log = (folder / "server.log").open("w")
    try:
        if options.sqlite:
            print("backend: SQLite (a throwaway file)")
        else:
            version = database.ensure_running(options.pg)
            throwaway = database.create_database(options.pg)
            env["GLUCODIARY_DB__URL"] = (
                f"{options.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{throwaway}"
            )
            print(f"backend: PostgreSQL {version} (throwaway database {throwaway})")
        for command in ("migrate", "demo"):
            subprocess.run(
                [sys.executable, "-m", "core.cli", command], env=env, check=True, capture_output=True
            )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)

        async def run() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await _sign_in(client)
                pid, _code = await _busiest_participant(client)
                await _load(url, f"/clinic/participants/{pid}?days={options.days}", options, client.cookies)

        asyncio.run(run())
    except Exception as exc:  # a benchmark reports and exits 0
        print(f"bench.clinic: {type(exc).__name__}: {exc} (server log: {folder / 'server.log'})")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        log.close()
        if throwaway is not None:
            try:
                database.drop_database(options.pg, throwaway)
            except Exception as exc:
                print(f"bench.clinic: could not drop database {throwaway}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
