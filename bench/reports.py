"""Bench-only: the study reports on a generated cohort (PostgreSQL), section `reports` of `make bench`.

    bash bench/run.sh reports        (inside make bench; BENCH_REPORTS_* variables in bench/README.md)
    python -m bench.reports          (the same section on its own, printing its figures)

1. Generates the cohort with COPY (bench/report_cohort.py: 1,000 participants x 730 days, ~3 million readings,
   doses, meals, events, versions) into its own throwaway database, timed.
2. In one process (`ratios`): fills the episode cache once (timed on its own), then the study hypoglycemia
   and glycemic-control reports as the service builds them (`core.reports.service.build`: scope, protocol, the
   episode cache's staleness check, rows and aggregates) against hand-written SQL computing the same rows and
   aggregates on asyncpg, alternately, median of BENCH_REPORTS_RUNS each; every figure of both is compared.
   EXPLAIN ANALYZE's execution time of each statement is printed beside them.
3. `glucodiary serve` (one worker, pinned): one participant's episodes (`GET /participants/{id}/episodes`,
   a statistician's token, a participant drawn at random per request) at 20 requests/s offered, open loop
   (bench/loadgen.py), p99; then the CSV export of all readings (`GET /studies/{id}/export/readings`) read to
   the end while the server's RSS is sampled: its peak above the RSS before the export.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

RATIO_TARGET = 1.5
P99_TARGET_MS = 50.0
RSS_TARGET_MIB = 50.0
GENERATE_TARGET_S = 600.0
MIB = 1024


def env_int(name: str, default: int) -> int:
    return int(float(os.environ.get(name, default)))


PARTICIPANTS = env_int("BENCH_REPORTS_PARTICIPANTS", 1000)
DAYS = env_int("BENCH_REPORTS_DAYS", 730)
RUNS = env_int("BENCH_REPORTS_RUNS", 5)
RATE = float(os.environ.get("BENCH_REPORTS_RATE", 20))
SECONDS = float(os.environ.get("BENCH_REPORTS_SECONDS", 30))

# ---- hand-written SQL: the same rows and aggregates as the service's, written for PostgreSQL directly --------
# $1 study, $2 data cut (exclusive date); $3 months per frame and $4 frames are written into the text from the
# protocol (as a hand-writer would: with $4 a parameter, PostgreSQL's generic plan guesses 1,000 frames)
FRAMES = """
pf AS (
  SELECT p.id, p.subject_code, s.code AS site_code, a.code AS arm_code, f.frame,
         (p.treatment_date + make_interval(months => (f.frame - 1) * $3))::date AS frame_start,
         (p.treatment_date + make_interval(months => f.frame * $3))::date AS frame_next,
         LEAST((p.treatment_date + make_interval(months => f.frame * $3))::date,
               COALESCE((p.withdrawn_at AT TIME ZONE p.timezone)::date, $2), $2) AS period_end
  FROM participant p JOIN site s ON s.id = p.site_id LEFT JOIN arm a ON a.id = p.arm_id
  CROSS JOIN generate_series(1, $4) AS f(frame)
  WHERE p.study_id = $1 AND p.status <> 'screening'
)"""
KEYS = """pf.subject_code, pf.site_code, pf.arm_code, pf.frame, pf.frame_start, pf.frame_next - 1 AS frame_end,
  (pf.period_end - pf.frame_start) / 365.25 AS exposure_years"""
HYPO_ROWS = f"""
SELECT {KEYS},
  count(*) FILTER (WHERE e.counted) AS episodes,
  count(*) FILTER (WHERE e.counted AND e.level = 1) AS level_1,
  count(*) FILTER (WHERE e.counted AND e.level = 2) AS level_2,
  count(*) FILTER (WHERE e.counted AND e.level = 3) AS level_3,
  count(*) FILTER (WHERE e.counted AND e.category = 'severe') AS severe,
  count(*) FILTER (WHERE e.counted AND e.category = 'documented_symptomatic') AS documented_symptomatic,
  count(*) FILTER (WHERE e.counted AND e.category = 'asymptomatic') AS asymptomatic,
  count(*) FILTER (WHERE e.counted AND e.category = 'probable_symptomatic') AS probable_symptomatic,
  count(*) FILTER (WHERE e.category = 'pseudo_hypoglycemia') AS pseudo_hypoglycemia
FROM pf LEFT JOIN (
  SELECT h.participant_id, h.start_local_date, h.level, h.category, h.counted
  FROM hypo_episode h JOIN episode_state st USING (participant_id, change_seq, protocol_version)
) e ON e.participant_id = pf.id AND e.start_local_date >= pf.frame_start AND e.start_local_date < pf.period_end
WHERE pf.frame_start < pf.period_end
GROUP BY pf.id, pf.subject_code, pf.site_code, pf.arm_code, pf.frame, pf.frame_start, pf.frame_next, pf.period_end"""
GROUPS = """GROUP BY GROUPING SETS ((frame, site_code), (frame), (frame, arm_code))
ORDER BY frame, CASE WHEN GROUPING(site_code) = 0 THEN 0 WHEN GROUPING(arm_code) = 0 THEN 2 ELSE 1 END,
  site_code, arm_code"""
HAND_HYPO = (
    f"WITH {FRAMES} {HYPO_ROWS} ORDER BY site_code, subject_code, frame",
    f"""WITH {FRAMES}, r AS ({HYPO_ROWS})
SELECT frame, site_code, arm_code, count(*) AS participants,
  count(*) FILTER (WHERE episodes > 0) AS participants_with_episode,
  100.0 * count(*) FILTER (WHERE episodes > 0) / count(*) AS participants_with_episode_pct,
  sum(episodes) AS episodes, sum(severe) AS severe, sum(exposure_years) AS exposure_years,
  sum(episodes) / NULLIF(sum(exposure_years), 0) AS episodes_per_patient_year,
  100 * sum(episodes) / NULLIF(sum(exposure_years), 0) AS episodes_per_100_patient_years,
  100 * sum(severe) / NULLIF(sum(exposure_years), 0) AS severe_per_100_patient_years
FROM r {GROUPS}""",
)


def _glucose_sql(thresholds: str, level1: str) -> tuple[str, str]:
    """Rows and aggregates of glycemic control; `thresholds`: VALUES (unit, l1, l2, fasting low, high, pp)."""
    readings = f"""(
  SELECT g.participant_id, g.local_date, g.value, g.value_mg_dl,
    g.context = 'fasting' AND NOT d.flags @> '["fasting_after_meal"]' AS fasting,
    g.context = 'postprandial' AND NOT d.flags @> '["postprandial_mistimed"]' AS postprandial,
    g.value BETWEEN t.fasting_low AND t.fasting_high AS fasting_ok, g.value < t.pp AS pp_ok,
    g.value {level1} t.l1 AS below1, g.value < t.l2 AS below2
  FROM glucose_reading g JOIN diary_entry d ON d.id = g.entry_id
  JOIN (VALUES {thresholds}) AS t(unit, l1, l2, fasting_low, fasting_high, pp) ON t.unit = g.unit
  WHERE NOT g.voided
) g ON g.participant_id = pf.id AND g.local_date >= pf.frame_start AND g.local_date < pf.period_end"""
    figures = """count(g.participant_id) AS readings,
  count(*) FILTER (WHERE g.fasting) AS fasting_n,
  avg(g.value_mg_dl) FILTER (WHERE g.fasting) AS fasting_mean_mg_dl,
  100.0 * count(*) FILTER (WHERE g.fasting AND g.fasting_ok)
    / NULLIF(count(*) FILTER (WHERE g.fasting), 0) AS fasting_in_range_pct,
  count(*) FILTER (WHERE g.postprandial) AS postprandial_n,
  avg(g.value_mg_dl) FILTER (WHERE g.postprandial) AS postprandial_mean_mg_dl,
  100.0 * count(*) FILTER (WHERE g.postprandial AND g.pp_ok)
    / NULLIF(count(*) FILTER (WHERE g.postprandial), 0) AS postprandial_in_range_pct,
  avg(g.value_mg_dl) AS mean_mg_dl, stddev_samp(g.value_mg_dl) AS sd_mg_dl,
  100 * stddev_samp(g.value_mg_dl) / NULLIF(avg(g.value_mg_dl), 0) AS cv_pct,
  100.0 * count(*) FILTER (WHERE g.below1) / NULLIF(count(g.participant_id), 0) AS below_70_pct,
  100.0 * count(*) FILTER (WHERE g.below2) / NULLIF(count(g.participant_id), 0) AS below_54_pct"""
    rows = f"""WITH {FRAMES}
SELECT {KEYS}, {figures}
FROM pf LEFT JOIN {readings}
WHERE pf.frame_start < pf.period_end
GROUP BY pf.id, pf.subject_code, pf.site_code, pf.arm_code, pf.frame, pf.frame_start, pf.frame_next, pf.period_end
ORDER BY site_code, subject_code, frame"""
    aggregates = f"""WITH {FRAMES}
SELECT pf.frame, pf.site_code, pf.arm_code, count(DISTINCT pf.id) AS participants, {figures}
FROM pf LEFT JOIN {readings}
WHERE pf.frame_start < pf.period_end
{GROUPS.replace("frame", "pf.frame").replace("site_code", "pf.site_code").replace("arm_code", "pf.arm_code")}"""
    return rows, aggregates


# ---- the in-process part: reports against hand-written SQL -------------------------------------------------
def _close(ours: list[dict[str, Any]], theirs: list[Any], rounding: dict[str, int]) -> tuple[bool, str]:
    """Every figure of the service's rows equals the hand-written one (to the report's rounding)."""
    if len(ours) != len(theirs):
        return False, f"{len(ours)} rows vs {len(theirs)}"
    for number, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for key, mine in a.items():
            if key not in b.keys():
                continue
            other = b[key]
            if mine is None or other is None:
                same = mine is None and other is None
            elif isinstance(mine, (int, float)) and not isinstance(mine, bool):
                same = abs(float(mine) - float(other)) <= 1.01 * 10 ** -rounding.get(key, 1)
            else:
                same = str(mine) == str(other)
            if not same:
                return False, f"row {number}: {key} {mine!r} vs {other!r}"
    return True, f"{len(ours)} rows equal"


async def _explain_ms(con: Any, sql: str, *args: Any) -> float:
    plan = await con.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
    return float(json.loads(plan)[0]["Execution Time"])


class _Statements:
    """The SQL text and parameters the service sends (SQLAlchemy's before_cursor_execute), to EXPLAIN them."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        self.seen.append((statement, tuple(parameters or ())))

    def longest(self, count: int) -> list[tuple[str, tuple[Any, ...]]]:
        """The `count` longest statements of the last report, in the order they ran (its rows, aggregates)."""
        chosen = sorted(sorted(self.seen, key=lambda s: len(s[0]))[-count:], key=self.seen.index)
        self.seen.clear()
        return chosen


async def ratios(dsn: str, url: str, ids: dict[str, Any], runs: int) -> list[dict[str, Any]]:
    import asyncpg

    from core.access import Actor
    from core.db import build_engine, database
    from core.episodes import store
    from core.models.people import Role
    from core.protocol import DEFAULT_PROTOCOL
    from core.reports.frames import frame_count, participants_in
    from core.reports.service import ROUNDING, Filters, build, resolve_scope

    database.use(build_engine(url))
    statements = _Statements(database.engine)
    actor = Actor(user_id=uuid.UUID(ids["user_id"]), role=Role.statistician, email="stat@bench.invalid")
    study_id = uuid.UUID(ids["study_id"])
    out: list[dict[str, Any]] = []

    async def service(name: str) -> Any:
        async with database.session() as session:
            found = await build(
                session=session, actor=actor, study_id=study_id, report=name, filters=Filters()
            )
            await session.commit()
            return found

    started = time.perf_counter()
    await service("hypoglycemia")  # the episode cache of every participant, detected once
    out.append(
        {
            "what": f"episode cache fill (detection for {len(ids['people'])} participants, once)",
            "figure": f"{time.perf_counter() - started:.1f} s",
        }
    )
    protocol = DEFAULT_PROTOCOL
    t_mg, t_mmol = protocol.glucose.mg_dl, protocol.glucose.mmol_l
    thresholds = ", ".join(
        f"('{unit}', {t.hypo_level1}, {t.hypo_level2}, {t.fasting_low}, {t.fasting_high}, {t.postprandial_limit})"
        for unit, t in (("mg/dL", t_mg), ("mmol/L", t_mmol))
    )
    level1 = "<=" if protocol.glucose.hypo_comparison.value == "le" else "<"
    hand = {"hypoglycemia": HAND_HYPO, "glycemic-control": _glucose_sql(thresholds, level1)}
    con = await asyncpg.connect(dsn)
    try:
        async with database.session() as session:
            _, scope, _ = await resolve_scope(
                session=session, actor=actor, study_id=study_id, filters=Filters()
            )
        args = (study_id, scope.cut)
        for name, written in hand.items():
            rows_sql, aggregates_sql = (
                sql.replace("$3", str(protocol.time_frame_months)).replace("$4", str(frame_count(protocol)))
                for sql in written
            )

            async def theirs(r: str = rows_sql, a: str = aggregates_sql) -> tuple[list[Any], list[Any]]:
                return await con.fetch(r, *args), await con.fetch(a, *args)

            found, expected = await service(name), await theirs()  # warm: plans, caches
            ours_s, hand_s = [], []
            for _ in range(runs):  # alternately, so the machine's noise falls on both
                mark = time.perf_counter()
                found = await service(name)
                ours_s.append(time.perf_counter() - mark)
                mark = time.perf_counter()
                expected = await theirs()
                hand_s.append(time.perf_counter() - mark)
            rows_ok, rows_note = _close(found.rows, expected[0], ROUNDING)
            agg_ok, agg_note = _close(found.aggregates, expected[1], ROUNDING)
            ours, theirs_m = statistics.median(ours_s), statistics.median(hand_s)
            statements.seen.clear()
            await service(name)
            sql_ms = [await _explain_ms(con, text, *params) for text, params in statements.longest(2)]
            hand_ms = [await _explain_ms(con, rows_sql, *args), await _explain_ms(con, aggregates_sql, *args)]
            out.append(
                {
                    "what": f"study {name} report vs hand-written SQL (rows {rows_note}; aggregates {agg_note})",
                    "figure": f"{ours * 1000:.0f} ms vs {theirs_m * 1000:.0f} ms = {ours / theirs_m:.2f}x"
                    f" (median of {runs}; in PostgreSQL rows + aggregates {sql_ms[0]:.0f} + {sql_ms[1]:.0f} ms"
                    f" vs {hand_ms[0]:.0f} + {hand_ms[1]:.0f} ms)",
                    "target": f"<= {RATIO_TARGET}x, same figures",
                    "met": ours / theirs_m <= RATIO_TARGET and rows_ok and agg_ok,
                    "ratio": ours / theirs_m,
                }
            )
        stale_s = []
        for _ in range(runs):
            async with database.session() as session:
                mark = time.perf_counter()
                await store.refresh(session=session, participants=participants_in(scope))
                stale_s.append(time.perf_counter() - mark)
        out.append(
            {
                "what": "of which the episode cache's staleness check (nothing stale), part of the report",
                "figure": f"{statistics.median(stale_s) * 1000:.1f} ms",
            }
        )
    finally:
        await con.close()
        await database.dispose()
    return out


# ---- the server part ---------------------------------------------------------------------------------------
def _rss_sampler(pid: int, stop: threading.Event, peak: list[int]) -> None:
    from bench.procs import memory_kib

    while not stop.is_set():
        peak[0] = max(peak[0], memory_kib(pid).get("VmRSS", 0))
        stop.wait(0.05)


def export_rss(port: int, pid: int, study_id: str, token: str) -> dict[str, Any]:
    """Read the readings export to the end, sampling the server's RSS; the growth over the RSS before it."""
    import http.client

    from bench.procs import memory_kib, reset_peak_rss

    before = memory_kib(pid).get("VmRSS", 0)
    reset_peak_rss(pid)
    peak, stop = [before], threading.Event()
    sampler = threading.Thread(target=_rss_sampler, args=(pid, stop, peak), daemon=True)
    sampler.start()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    size = lines = 0
    first_byte = None
    try:
        connection.request(
            "GET", f"/api/v1/studies/{study_id}/export/readings", headers={"Authorization": f"Bearer {token}"}
        )
        answer = connection.getresponse()
        while chunk := answer.read(1 << 16):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
        status = answer.status
    finally:
        connection.close()
        stop.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    hwm = memory_kib(pid).get("VmHWM", 0)
    return {
        "status": status,
        "rows": max(0, lines - 1),
        "bytes": size,
        "seconds": elapsed,
        "first_byte_s": first_byte or elapsed,
        "rss_before_kib": before,
        "rss_peak_kib": max(peak[0], hwm),
    }


def section(
    ctx: Any,
    procs: Any,
    checks: Any,
    say: Callable[[str], None],
    server_cpu: int | None,
    load_cpu: int | None,
) -> None:
    """Section `reports` of make bench: every figure into `checks` against its target."""
    from bench import database
    from bench.openloop import Target, drive
    from bench.procs import free_port

    name = database.create_database(ctx.server_dsn)
    url = f"{ctx.server_dsn}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {**ctx.glucodiary_env(), "GLUCODIARY_DB__URL": url, "GLUCODIARY_DB__POOL_SIZE": "20"}
    env["GLUCODIARY_DB__MAX_OVERFLOW"] = "0"
    env["GLUCODIARY_LOG_LEVEL"] = "WARNING"
    scratch = Path(tempfile.mkdtemp(prefix="reports-", dir=ctx.scratch))

    def python(*args: str, timeout: float = 3600) -> str:
        done = subprocess.run(
            [ctx.python, "-m", "bench.reports", *args],
            cwd=ctx.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"bench.reports {args[0]} failed:\n" + "\n".join(done.stderr.splitlines()[-12:])
            )
        for line in done.stderr.splitlines():
            say(line)
        return done.stdout.strip().splitlines()[-1]

    try:
        subprocess.run([str(ctx.venv_bin / "glucodiary"), "migrate"], cwd=ctx.repo, env=env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        ids_file = scratch / "ids.json"
        say(f"reports: generating {PARTICIPANTS} participants x {DAYS} days with COPY into {name}")
        python("generate", "--dsn", f"{ctx.server_dsn}/{name}", "--out", str(ids_file))
        ids = json.loads(ids_file.read_text())
        t, counts = ids["timings"], ids["counts"]
        checks.add(
            f"reports cohort: {counts['glucose_reading']:,} readings, {counts['diary_entry']:,} entries and"
            f" versions, {ids['size_bytes'] / 2**30:.1f} GiB (COPY + indexes + VACUUM ANALYZE)",
            f"{t['total_s']:.0f} s ({t['copy_s']:.0f} + {t['indexes_s']:.0f} + {t['vacuum_s']:.0f})",
            f"minutes (< {GENERATE_TARGET_S / 60:.0f} min)",
            t["total_s"] < GENERATE_TARGET_S,
        )
        for item in json.loads(python("ratios", "--dsn", f"{ctx.server_dsn}/{name}", "--ids", str(ids_file))):
            checks.add(item["what"], item["figure"], item.get("target", ""), item.get("met"))
        token = python("token", "--user", ids["user_id"])
        people = scratch / "people.txt"
        people.write_text("".join(f"{pid} {token}\n" for pid in ids["people"]))
        port = free_port()
        server = procs.start(
            name="glucodiary serve (reports cohort)",
            command=[str(ctx.venv_bin / "glucodiary"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            port=port,
            env=env,
            log_path=scratch / "server.log",
            cpu=server_cpu,
            cwd=ctx.repo,
        )
        try:
            target = Target(port, people, scratch, load_cpu, lambda: [server.pid])
            episodes = {"episodes": 1.0}
            drive(target, duration_s=5, rate=RATE, kinds=episodes)  # warm-up
            run = drive(target, duration_s=SECONDS, rate=RATE, kinds=episodes, seed=5)
            f = run.figures("episodes")
            checks.figures["reports_episodes"] = {"p50": f.p50, "p99": f.p99, "count": f.count}
            checks.add(
                f"one participant's episodes at {RATE:g} req/s offered ({f.count} req, {run.errors} errors)",
                f"p99 {f.p99:.1f} ms (p50 {f.p50:.1f})" if f.p99 is not None else "no answers",
                f"< {P99_TARGET_MS:g} ms",
                f.p99 is not None and f.p99 < P99_TARGET_MS and run.errors == 0,
            )
            export = export_rss(port, server.pid, ids["study_id"], token)
            checks.figures["reports_export"] = export
            growth = (export["rss_peak_kib"] - export["rss_before_kib"]) / MIB
            checks.add(
                f"readings CSV export: {export['rows']:,} rows, {export['bytes'] / 2**20:.0f} MiB in"
                f" {export['seconds']:.1f} s (first byte {export['first_byte_s']:.2f} s, status {export['status']})",
                f"server RSS +{growth:.1f} MiB (from {export['rss_before_kib'] / MIB:.0f} MiB)",
                f"< {RSS_TARGET_MIB:g} MiB",
                growth < RSS_TARGET_MIB and export["status"] == 200
                and export["rows"] == counts["glucose_reading"],
            )  # fmt: skip
        finally:
            procs.stop(server)
    finally:
        if not os.environ.get("BENCH_REPORTS_KEEP"):
            database.drop_database(ctx.server_dsn, name)
        else:
            say(f"reports: database {name} kept (BENCH_REPORTS_KEEP)")


# ---- command line: the subprocesses of the section, and the section on its own -------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    generate = sub.add_parser("generate")
    generate.add_argument("--dsn", required=True)
    generate.add_argument("--out", required=True)
    measure = sub.add_parser("ratios")
    measure.add_argument("--dsn", required=True)
    measure.add_argument("--ids", required=True)
    token = sub.add_parser("token")
    token.add_argument("--user", required=True)
    args = parser.parse_args()
    if args.command == "generate":
        from bench.report_cohort import generate as make

        def say(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        found = asyncio.run(make(args.dsn, PARTICIPANTS, DAYS, say=say))
        Path(args.out).write_text(json.dumps(found, default=str))
        print("{}")
    elif args.command == "ratios":
        ids = json.loads(Path(args.ids).read_text())
        url = args.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        print(json.dumps(asyncio.run(ratios(args.dsn, url, ids, RUNS))))
    elif args.command == "token":
        from core import security

        print(security.issue_access_token(user_id=uuid.UUID(args.user), token_version=0)[0])
    else:
        _alone()


def _alone() -> None:
    """The section without the rest of make bench (pinned like it, its own scratch directory)."""
    import shutil

    from bench import database
    from bench.procs import Processes
    from bench.scenarios import RunContext
    from bench.targets import Checks

    server_dsn = os.environ.get("BENCH_PG", database.DEFAULT_SERVER_DSN)
    database.ensure_running(server_dsn)
    cpus = sorted(os.sched_getaffinity(0))
    scratch = Path(tempfile.mkdtemp(prefix="glucodiary-bench-"))
    repo = Path(__file__).resolve().parent.parent
    ctx = RunContext(repo, Path(sys.executable).parent, server_dsn, "unused", scratch)
    procs, checks = Processes(), Checks()
    pins = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    try:
        section(ctx, procs, checks, lambda m: print(f"bench: {m}", flush=True), *pins)
    except Exception as exc:
        checks.add("reports section", f"stopped: {type(exc).__name__}: {str(exc)[-300:]}", "complete", False)
    finally:
        procs.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
        print(checks.table())


if __name__ == "__main__":
    main()
