"""The load generator checked against wrk at a low rate, where nothing queues and both must agree.

The same request (a participant's newest list page) at BENCH_CHECK_RATE requests/s: wrk on one connection
pausing 1/rate between requests (bench/lua/paced.lua), then bench/loadgen.py in open loop at that rate.
Agreement: the two medians within 20 % or 0.5 ms of each other, whichever is wider (the timers of both
clients have about a millisecond's resolution, and each run sees different noise from the other helpers).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bench.openloop import Target, drive
from bench.wrk import run_wrk

if TYPE_CHECKING:
    from bench.procs import Server
    from bench.suite import Suite
    from bench.targets import Checks

RELATIVE_MARGIN = 0.20
ABSOLUTE_MARGIN_MS = 0.5


def compare(suite: Suite, server: Server, target: Target, checks: Checks) -> None:
    rate, seconds = suite.settings.check_rate, suite.settings.check_seconds
    participant, token = target.people_file.read_text().split("\n", 1)[0].split()
    one = suite.ctx.scratch / "check_person.txt"
    one.write_text(f"{participant} {token}\n")
    os.environ["BENCH_DELAY_MS"] = f"{1000 / rate:.0f}"
    wrk = run_wrk(
        url=f"{server.base_url}/api/v1/participants/{participant}/entries?limit=100",
        lua="paced.lua",
        method="GET",
        body_file=None,
        headers={"Authorization": f"Bearer {token}", "User-Agent": "GlucodiaryApp/2.3.1 (bench)"},
        duration_s=seconds,
        connections=1,
        threads=1,
        cpu=target.cpu,
    )
    mine = drive(
        Target(target.port, one, target.scratch, target.cpu, target.rss_pids),
        duration_s=seconds,
        rate=rate,
        kinds={"list": 1.0},
    ).figures("list")
    wrk_p50, wrk_p99 = wrk.p50_us / 1000, wrk.p99_us / 1000
    suite.say(
        f"check against wrk at {rate:g} req/s: wrk p50 {wrk_p50:.2f} p99 {wrk_p99:.2f} ms "
        f"({wrk.requests} req); loadgen p50 {mine.p50 or 0:.2f} p99 {mine.p99 or 0:.2f} ms ({mine.count} req)"
    )
    checks.figures["wrk_check"] = {
        "rate": rate,
        "wrk_p50_ms": wrk_p50,
        "wrk_p99_ms": wrk_p99,
        "loadgen_p50_ms": mine.p50,
        "loadgen_p99_ms": mine.p99,
    }
    if mine.p50 is None:
        checks.add("loadgen vs wrk", "the load generator got no answer", "", False)
        return
    margin = max(RELATIVE_MARGIN * wrk_p50, ABSOLUTE_MARGIN_MS)
    checks.add(
        f"loadgen vs wrk p50, list page at {rate:g} req/s",
        f"{mine.p50:.2f} vs {wrk_p50:.2f} ms (p99 {mine.p99 or 0:.2f} vs {wrk_p99:.2f})",
        f"within {100 * RELATIVE_MARGIN:.0f} % or {ABSOLUTE_MARGIN_MS} ms",
        abs(mine.p50 - wrk_p50) <= margin and mine.errors == 0 and wrk.error_count == 0,
    )
