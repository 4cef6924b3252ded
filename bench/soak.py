"""The soak: the mix at 0.5 x C for BENCH_SOAK_SECONDS (600 by default), then every acknowledged entry looked up.

Targets (issue 13): RSS growth after the first minute under 10 MiB, the last minute's p99 within 1.5 x the
first minute's, no error, and every entry answered 2xx (single POSTs 200/201, batch items created or
duplicate) found in diary_entry afterwards. A soak shorter than four minutes compares quarters instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.openloop import Target, drive

if TYPE_CHECKING:
    from bench.procs import Server
    from bench.suite import Suite

MINUTE_S = 60.0


def run(suite: Suite, server: Server, target: Target, rate: float) -> None:
    from bench.suite import MIB, stored_count

    seconds, checks = suite.settings.soak_seconds, suite.checks
    window = MINUTE_S if seconds >= 4 * MINUTE_S else seconds / 4
    label = "minute" if window == MINUTE_S else f"{window:.0f} s"
    suite.say(f"soak: {rate:.0f} req/s for {seconds:.0f} s (BENCH_SOAK_SECONDS)")
    soak = drive(target, duration_s=seconds, rate=rate, ids=True, seed=4242)
    first, last = soak.figures(end_s=window), soak.figures(start_s=seconds - window)
    settled = [kib for at, kib in soak.rss_kib if at >= window]
    growth = (settled[-1] - settled[0]) / MIB if len(settled) >= 2 else None
    assert soak.ids_file is not None
    ids = sorted({line for line in soak.ids_file.read_text().split("\n") if line})
    stored = stored_count(suite.ctx.db_dsn, ids)
    checks.figures["soak"] = {
        "seconds": seconds,
        "rate": rate,
        "requests": len(soak.samples),
        "errors": soak.errors,
        "rss_mib": [(round(at), kib / MIB) for at, kib in soak.rss_kib],
        "first_p99_ms": first.p99,
        "last_p99_ms": last.p99,
        "acknowledged": len(ids),
        "stored": stored,
    }
    suite.say(
        f"soak: {len(soak.samples)} requests, {soak.errors} errors, {len(ids)} entries acknowledged, "
        f"{stored} found stored"
    )
    checks.add(
        f"soak errors ({seconds:.0f} s at {rate:.0f} req/s, {len(soak.samples)} req)",
        f"{soak.errors}",
        "0",
        soak.errors == 0,
    )
    checks.add(
        f"soak RSS growth after the first {label}",
        "not measured"
        if growth is None
        else f"{growth:+.1f} MiB ({settled[0] / MIB:.1f} -> {settled[-1] / MIB:.1f})",
        "< 10 MiB",
        growth is not None and growth < 10,
    )
    checks.ratio(f"soak p99: last {label} / first", last.p99, first.p99, 1.5, above=False)
    checks.add("soak: acknowledged entries stored", f"{stored} of {len(ids)}", "all", stored == len(ids) > 0)
