"""The clinic dashboard's participant page under load: server time at a fixed offered rate, and page weight.

    .venv/bin/python -m bench.clinic [--rate 20] [--seconds 30] [--days 90]

Loads the demo study into a throwaway SQLite database (or the PostgreSQL database named by CLINIC_BENCH_DB_URL,
which must be empty), serves it with one uvicorn worker, signs the demo clinician in, and requests the
participant page of the demo participant with the most diary entries (about 1,000 over 90 days) at `--rate`
requests per second, whether or not earlier answers have come back (an open loop: a slow answer does not slow
the offered load, unlike wrk's closed loop). Server time is the dashboard's own `Server-Timing: app;dur=`
(routing, queries, template); client time adds HTTP on 127.0.0.1. Page weight is the HTML with its chart data;
the vendored static files (cached by the browser) are listed apart. A benchmark: it prints figures, exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

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


async def _load(url: str, path: str, rate: float, seconds: float, cookies: httpx.Cookies) -> None:
    server_ms: list[float] = []
    client_ms: list[float] = []
    sizes: list[int] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, cookies=cookies, limits=limits, timeout=30) as client:

        async def one() -> None:
            started = time.perf_counter()
            try:
                answer = await client.get(path)
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
                return
            client_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                failures.append(str(answer.status_code))
                return
            timing = re.search(r"app;dur=([0-9.]+)", answer.headers.get("server-timing", ""))
            if timing:
                server_ms.append(float(timing.group(1)))
            sizes.append(len(answer.content))

        alone = []
        for _ in range(10):  # warm-up, one at a time: the page's time without queueing
            answer = await client.get(path)
            timing = re.search(r"app;dur=([0-9.]+)", answer.headers.get("server-timing", ""))
            alone.append(float(timing.group(1)) if timing else float("nan"))
        print(f"one at a time (warm-up): server time ms {', '.join(f'{t:.0f}' for t in alone)}")
        total = int(rate * seconds)
        tasks = []
        begin = time.perf_counter()
        for n in range(total):  # bounded: rate x seconds requests, each at its own time
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        _done, pending = await asyncio.wait(tasks, timeout=60)  # bounded: what is not back a minute later
        for task in pending:  # counts as unanswered
            task.cancel()
        if pending:
            failures.extend(["unanswered after the run + 60 s"] * len(pending))
        static = {}
        for name in STATIC:
            static[name] = len((await client.get(f"/clinic/static/vendor/{name}")).content)
    print(
        f"offered {rate:g} req/s for {seconds:g} s: {len(server_ms)} answered, {len(failures)} failed {failures[:5]}"
    )
    if server_ms:
        print(
            f"server time ms: p50 {percentile(server_ms, 50):.1f}  p95 {percentile(server_ms, 95):.1f}  "
            f"p99 {percentile(server_ms, 99):.1f}  max {max(server_ms):.1f}"
        )
        print(
            f"client time ms (adds HTTP on 127.0.0.1): p50 {percentile(client_ms, 50):.1f}  "
            f"p99 {percentile(client_ms, 99):.1f}"
        )
        print(f"page weight (HTML with its chart data, uncompressed): {max(sizes) / 1024:.1f} kB")
    print(
        "vendored static files, cached, not counted: "
        + ", ".join(f"{k} {v / 1024:.1f} kB" for k, v in static.items())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--days", type=int, default=90, choices=(14, 30, 90))
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="glucodiary-clinic-bench-"))
    env = {**os.environ, "GLUCODIARY_DATA_DIR": str(folder), "GLUCODIARY_LOG_LEVEL": "WARNING"}
    env["GLUCODIARY_ENV"] = "development"  # plain http on 127.0.0.1: the session cookie is not Secure
    if os.environ.get("CLINIC_BENCH_DB_URL"):
        env["GLUCODIARY_DB__URL"] = os.environ["CLINIC_BENCH_DB_URL"]
    for command in ("migrate", "demo"):
        subprocess.run([sys.executable, "-m", "core.cli", command], env=env, check=True, capture_output=True)
    port = free_port()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
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
                await _load(
                    url,
                    f"/clinic/participants/{pid}?days={options.days}",
                    options.rate,
                    options.seconds,
                    client.cookies,
                )

        asyncio.run(run())
    except Exception as exc:  # a benchmark reports and exits 0
        print(f"bench.clinic: {type(exc).__name__}: {exc} (server log: {folder / 'server.log'})")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
