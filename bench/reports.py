"""Bench-only: the study reports on a generated cohort (PostgreSQL), against hand-written SQL of the same figures.

    python -m bench.reports [--participants 1000] [--days 730] [--keep]

Generates P participants x D days of fingerstick readings (4 a day: fasting, postprandial, random, bedtime),
a hypoglycemia event a week and exercise three times a week, written with COPY into a throwaway database;
then prints, each against its target: the episode cache fill (once), the study hypoglycemia and
glycemic-control reports (median of 5) vs hand-written SQL computing the same rows (ratio, target <= 1.5), and
one participant's episode list over HTTP at 20 requests/s offered (p99, target < 50 ms). Not part of `make
test`; `make bench` (bench/run.sh, owned by the bench helper) may call it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from bench.database import DEFAULT_SERVER_DSN, create_database, drop_database, ensure_running

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
DAY0 = date(2025, 1, 6)
SLOTS = (("fasting", 7 * 60), ("postprandial", 13 * 60 + 30), ("random", 19 * 60), ("bedtime", 22 * 60))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _value(rng: random.Random, context: str) -> float:
    if rng.random() < 0.04:
        return float(rng.randint(40, 69))  # a low now and then: episodes to find
    centre = {"fasting": 105, "postprandial": 150, "random": 130, "bedtime": 125}[context]
    return float(max(40, min(400, round(rng.gauss(centre, 30)))))


async def generate(dsn: str, participants: int, days: int, seed: int = 7) -> dict[str, Any]:
    """Study, sites, arms, staff and the cohort's diary through COPY; the ids the measurements need."""
    from core.protocol import DEFAULT_PROTOCOL
    from core.rules.classify import MealTiming, classify_glucose

    rng = random.Random(seed)
    con = await asyncpg.connect(dsn)
    try:
        study_id, user_id = uuid.uuid4(), uuid.uuid4()
        now = NOW
        await con.execute(
            "INSERT INTO user_account (id, email, password_hash, role, active, token_version, created_at)"
            " VALUES ($1, 'stat@bench.invalid', '!', 'statistician', true, 0, $2)",
            user_id,
            now,
        )
        await con.execute(
            "INSERT INTO study (id, code, name, timezone, blinded, protocol_version, created_at)"
            " VALUES ($1, 'BENCHREP', 'Bench reports', 'UTC', true, 1, $2)",
            study_id,
            now,
        )
        await con.execute(
            "INSERT INTO protocol_version (id, study_id, version, settings, created_at) VALUES ($1, $2, 1, $3, $4)",
            uuid.uuid4(),
            study_id,
            _json(DEFAULT_PROTOCOL.model_dump(mode="json")),
            now,
        )
        sites = [uuid.uuid4() for _ in range(4)]
        arms = [uuid.uuid4() for _ in range(2)]
        for n, site in enumerate(sites):
            await con.execute(
                "INSERT INTO site (id, study_id, code, name, timezone) VALUES ($1, $2, $3, $3, 'UTC')",
                site,
                study_id,
                f"S{n + 1}",
            )
        for n, arm in enumerate(arms):
            await con.execute(
                "INSERT INTO arm (id, study_id, code, name) VALUES ($1, $2, $3, $3)", arm, study_id, "AB"[n]
            )
        await con.execute(
            "INSERT INTO staff_assignment (id, user_id, study_id, site_id, role, created_at)"
            " VALUES ($1, $2, $3, NULL, 'statistician', $4)",
            uuid.uuid4(),
            user_id,
            study_id,
            now,
        )
        people = []
        for n in range(participants):
            pid = uuid.uuid4()
            day0 = DAY0 + timedelta(days=rng.randint(0, 30))
            withdrawn = now - timedelta(days=rng.randint(60, 400)) if rng.random() < 0.05 else None
            people.append((pid, day0))
            await con.execute(
                "INSERT INTO participant (id, study_id, site_id, arm_id, subject_code, sex, birth_date, enrolled_at,"
                " treatment_date, status, timezone, withdrawn_at, created_at) VALUES ($1, $2, $3, $4, $5, 'female',"
                " $6, $7, $8, $9, 'UTC', $10, $11)",
                pid,
                study_id,
                sites[n % 4],
                arms[n % 2],
                f"R-{n:05d}",
                date(2000 + n % 20, 1, 1),
                datetime.combine(day0 - timedelta(days=14), datetime.min.time(), UTC),
                day0,
                "withdrawn" if withdrawn else "enrolled",
                withdrawn,
                now,
            )
        columns = [
            "id",
            "participant_id",
            "kind",
            "occurred_at",
            "utc_offset_minutes",
            "local_date",
            "received_at",
            "updated_at",
            "recorded_by_user_id",
            "recorded_by_role",
            "relationship",
            "version",
            "voided",
            "late",
            "flags",
            "alert_ids",
            "data",
            "body_hash",
            "change_seq",
            "document",
        ]
        reading_columns = [
            "entry_id",
            "participant_id",
            "occurred_at",
            "local_date",
            "value",
            "unit",
            "value_mg_dl",
            "context",
            "voided",
        ]
        total = 0
        for pid, day0 in people:
            entries, readings, seq = [], [], 0
            for day in range(-14, days):
                local = day0 + timedelta(days=day)
                base = datetime.combine(local, datetime.min.time(), UTC)
                for context, minute in SLOTS:
                    seq += 1
                    value = _value(rng, context)
                    at = base + timedelta(minutes=minute + rng.randint(-20, 20))
                    flags = classify_glucose(
                        value=value,
                        unit="mg/dL",
                        context=context,
                        timing=MealTiming(),
                        rules=DEFAULT_PROTOCOL.glucose,
                    )
                    data = {"value": value, "unit": "mg/dL", "context": context}
                    entry_id = uuid.uuid4()
                    entries.append(
                        (
                            entry_id,
                            pid,
                            "glucose",
                            at,
                            0,
                            local,
                            at,
                            at,
                            user_id,
                            "participant",
                            "self",
                            1,
                            False,
                            False,
                            _json(flags),
                            "[]",
                            _json(data),
                            "-",
                            seq,
                            "{}",
                        )
                    )
                    readings.append((entry_id, pid, at, local, value, "mg/dL", value, context, False))
                extra = []
                if day % 7 == 3:
                    extra.append(("hypo_event", {"symptoms": True, "needed_assistance": rng.random() < 0.05}))
                if day % 7 in (0, 2, 4):
                    extra.append(
                        ("exercise", {"activity": "walking", "duration_min": 60, "intensity": "moderate"})
                    )
                for kind, data in extra:
                    seq += 1
                    at = base + timedelta(minutes=rng.randint(8 * 60, 21 * 60))
                    entries.append(
                        (
                            uuid.uuid4(),
                            pid,
                            kind,
                            at,
                            0,
                            local,
                            at,
                            at,
                            user_id,
                            "participant",
                            "self",
                            1,
                            False,
                            False,
                            "[]",
                            "[]",
                            _json(data),
                            "-",
                            seq,
                            "{}",
                        )
                    )
            await con.copy_records_to_table("diary_entry", records=entries, columns=columns)
            await con.copy_records_to_table("glucose_reading", records=readings, columns=reading_columns)
            await con.execute(
                "INSERT INTO diary_sequence (participant_id, last_change_seq) VALUES ($1, $2)", pid, seq
            )
            total += len(readings)
        await con.execute("ANALYZE")
        return {"study_id": study_id, "user_id": user_id, "people": [p for p, _ in people], "readings": total}
    finally:
        await con.close()


HAND_HYPO = """
WITH f AS (SELECT generate_series(1, 8) AS frame),
pf AS (
  SELECT p.id, p.subject_code, s.code AS site_code, f.frame,
         (p.treatment_date + make_interval(months => (f.frame - 1) * 3))::date AS frame_start,
         LEAST((p.treatment_date + make_interval(months => f.frame * 3))::date,
               COALESCE((p.withdrawn_at AT TIME ZONE p.timezone)::date, $2), $2) AS period_end
  FROM participant p JOIN site s ON s.id = p.site_id CROSS JOIN f
  WHERE p.study_id = $1 AND p.status <> 'screening'
)
SELECT pf.subject_code, pf.site_code, pf.frame, (pf.period_end - pf.frame_start) / 365.25 AS exposure_years,
       count(e.*) FILTER (WHERE e.counted) AS episodes,
       count(e.*) FILTER (WHERE e.counted AND e.level = 1) AS level_1,
       count(e.*) FILTER (WHERE e.counted AND e.level = 2) AS level_2,
       count(e.*) FILTER (WHERE e.counted AND e.level = 3) AS level_3,
       count(e.*) FILTER (WHERE e.counted AND e.category = 'severe') AS severe,
       count(e.*) FILTER (WHERE e.category = 'pseudo_hypoglycemia') AS pseudo
FROM pf
LEFT JOIN (SELECT h.* FROM hypo_episode h JOIN episode_state st ON st.participant_id = h.participant_id
           AND st.change_seq = h.change_seq AND st.protocol_version = h.protocol_version) e
  ON e.participant_id = pf.id AND e.start_local_date >= pf.frame_start AND e.start_local_date < pf.period_end
WHERE pf.frame_start < pf.period_end
GROUP BY pf.id, pf.subject_code, pf.site_code, pf.frame, pf.frame_start, pf.period_end
ORDER BY pf.site_code, pf.subject_code, pf.frame
"""

HAND_GLYCEMIC = """
WITH f AS (SELECT generate_series(1, 8) AS frame),
pf AS (
  SELECT p.id, p.subject_code, s.code AS site_code, f.frame,
         (p.treatment_date + make_interval(months => (f.frame - 1) * 3))::date AS frame_start,
         LEAST((p.treatment_date + make_interval(months => f.frame * 3))::date,
               COALESCE((p.withdrawn_at AT TIME ZONE p.timezone)::date, $2), $2) AS period_end
  FROM participant p JOIN site s ON s.id = p.site_id CROSS JOIN f
  WHERE p.study_id = $1 AND p.status <> 'screening'
)
SELECT pf.subject_code, pf.frame, count(g.entry_id) AS readings,
       avg(g.value_mg_dl) FILTER (WHERE g.context = 'fasting' AND NOT d.flags @> '["fasting_after_meal"]') AS fasting_mean,
       avg(g.value_mg_dl) AS mean_mg_dl, stddev_samp(g.value_mg_dl) AS sd_mg_dl,
       100.0 * count(*) FILTER (WHERE g.value < 70) / NULLIF(count(g.entry_id), 0) AS below_70_pct
FROM pf
LEFT JOIN glucose_reading g ON g.participant_id = pf.id AND NOT g.voided
  AND g.local_date >= pf.frame_start AND g.local_date < pf.period_end
LEFT JOIN diary_entry d ON d.id = g.entry_id
WHERE pf.frame_start < pf.period_end
GROUP BY pf.id, pf.subject_code, pf.site_code, pf.frame
ORDER BY pf.site_code, pf.subject_code, pf.frame
"""


async def _median(make: Any, runs: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = await make()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def measure(dsn: str, url: str, ids: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    import httpx

    from api.main import create_app
    from core import clock, security
    from core.access import Actor
    from core.db import build_engine, database
    from core.models.people import Role
    from core.reports.service import Filters, build

    clock.set_now(NOW)
    database.use(build_engine(url))
    actor = Actor(user_id=ids["user_id"], role=Role.statistician, email="stat@bench.invalid")
    cut = NOW.date() + timedelta(days=1)
    results: list[tuple[str, str, str, bool]] = []

    async def report(name: str) -> Any:
        async with database.session() as session:
            return await build(
                session=session, actor=actor, study_id=ids["study_id"], report=name, filters=Filters()
            )

    async def commit_report(name: str) -> Any:
        async with database.session() as session:
            found = await build(
                session=session, actor=actor, study_id=ids["study_id"], report=name, filters=Filters()
            )
            await session.commit()
            return found

    start = time.perf_counter()
    await commit_report("hypoglycemia")
    fill = time.perf_counter() - start
    results.append(("episode cache fill (once, whole study)", f"{fill:.1f} s", "information", True))
    con = await asyncpg.connect(dsn)
    try:
        for name, hand in (("hypoglycemia", HAND_HYPO), ("glycemic-control", HAND_GLYCEMIC)):
            ours, found = await _median(lambda n=name: report(n))
            theirs, rows = await _median(lambda q=hand: con.fetch(q, ids["study_id"], cut))
            same = len(found.rows) == len(rows) and all(
                (a["subject_code"], a["frame"], a.get("episodes", a.get("readings")))
                == (b["subject_code"], b["frame"], b.get("episodes", b.get("readings")))
                for a, b in zip(found.rows, rows, strict=True)
            )
            ratio = ours / theirs
            results.append(
                (
                    f"{name} report (rows {len(found.rows)}, same figures: {same})",
                    f"{ours * 1000:.0f} ms vs hand-written {theirs * 1000:.0f} ms = {ratio:.2f}x",
                    "<= 1.5x",
                    ratio <= 1.5 and same,
                )
            )
    finally:
        await con.close()
    token, _ = security.issue_access_token(user_id=ids["user_id"], token_version=0)
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app()
    rng = random.Random(3)
    latencies: list[float] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def one(due: float) -> None:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            pid = rng.choice(ids["people"])
            answer = await client.get(f"/api/v1/participants/{pid}/episodes", headers=headers)
            assert answer.status_code == 200, answer.text
            latencies.append(time.perf_counter() - due)  # from when it was due: open loop

        begin = time.perf_counter() + 0.1
        await asyncio.gather(*(one(begin + i / 20) for i in range(300)))
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    results.append(
        (
            "one participant's episodes, 20 req/s offered, 300 requests",
            f"p99 {p99:.1f} ms",
            "< 50 ms",
            p99 < 50,
        )
    )
    await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    ensure_running(DEFAULT_SERVER_DSN)
    name = create_database(DEFAULT_SERVER_DSN)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    os.environ["GLUCODIARY_DB__URL"] = url
    os.environ.setdefault("GLUCODIARY_LOG_LEVEL", "WARNING")  # a log line per request would be measured too
    try:
        from core import migrations

        migrations.upgrade(url)
        start = time.perf_counter()
        ids = asyncio.run(generate(f"{DEFAULT_SERVER_DSN}/{name}", args.participants, args.days))
        print(
            f"bench reports: {ids['readings']:,} readings for {args.participants} participants generated with COPY"
            f" in {time.perf_counter() - start:.0f} s"
        )
        for label, figure, target, ok in asyncio.run(measure(f"{DEFAULT_SERVER_DSN}/{name}", url, ids)):
            print(f"  {label}: {figure} (target {target}) {'OK' if ok else 'MISSED'}")
    finally:
        if not args.keep:
            drop_database(DEFAULT_SERVER_DSN, name)


if __name__ == "__main__":
    main()
