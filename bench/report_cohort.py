"""Bench-only: a trial cohort for the report benchmark, written into PostgreSQL with COPY.

P participants x D days of diary (default 1,000 x 730, plus the 14 run-in days before day 0), as a phone would
have sent it and the service would have stored it:

- 4 fingerstick readings a day (fasting 07:00, postprandial 90 min after lunch and linked to it, random 19:00,
  bedtime 22:00; one participant in four in mmol/L), a low now and then so episodes exist: ~3 million readings;
- 2 insulin doses a day (basal in the morning, a bolus at lunch), lunch as a meal entry, a self-reported
  hypoglycemia event a week and exercise three times a week;
- every entry as `diary_entry` (its `data`, the rules' `flags` from `core.rules.classify`), its first version
  in `diary_entry_version` (op `create`, with its audit record, as core/diary/rows.py writes it), each reading's typed row in `glucose_reading`, and the feed counter in
  `diary_sequence`. Rows are written out directly for speed; the first entry of each kind of every
  participant is built again with the service's own `core.diary.entries.audit_record` and `glucose_values` and must
  come out identical (key order included), or the generation stops. The rules' alerts are not generated (no
  `alert` rows; `alert_ids` empty).

The diary rows are made in worker processes as COPY text while the main process copies the previous block,
so making and loading overlap on two CPUs. During the load the secondary indexes of the three diary tables are
dropped and the session skips foreign-key triggers (`session_replication_role = replica`; the rows are
consistent by construction); the indexes are then built again from their own definitions, so the schema
afterwards is the migrations' exactly. Then VACUUM ANALYZE, so autovacuum does not start during measurements.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

import asyncpg
import orjson

# the diary ends before today, so the service's own clock (the data cut is the end of today) sees all of it
NOW = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
RUN_IN_DAYS = 14
MG_DL_PER_MMOL_L = 18.016
BLOCK = 10  # participants per COPY block
WORKERS = int(os.environ.get("BENCH_REPORTS_WORKERS", 2))  # processes making COPY text beside PostgreSQL
SITES = ("S1", "S2", "S3", "S4")
ARMS = ("A", "B")
APP = ("GlucodiaryApp", "2.3.1")

ENTRY_COLUMNS = (
    "id",
    "participant_id",
    "kind",
    "occurred_at",
    "utc_offset_minutes",
    "local_date",
    "entered_at",
    "received_at",
    "updated_at",
    "recorded_by_user_id",
    "recorded_by_role",
    "relationship",
    "source_app",
    "source_app_version",
    "note",
    "version",
    "voided",
    "void_reason",
    "late",
    "run_in",
    "flags",
    "alert_ids",
    "data",
    "body_hash",
    "change_seq",
)
VERSION_COLUMNS = (
    "entry_id",
    "version",
    "op",
    "audit_record",
    "changed_by_user_id",
    "changed_by_role",
    "changed_at",
    "reason",
)
GLUCOSE_COLUMNS = (
    "entry_id",
    "participant_id",
    "occurred_at",
    "local_date",
    "value",
    "unit",
    "value_mg_dl",
    "context",
    "minutes_after_meal",
    "meal_id",
    "source",
    "voided",
)
TABLES = {
    "diary_entry": ENTRY_COLUMNS,
    "glucose_reading": GLUCOSE_COLUMNS,
    "diary_entry_version": VERSION_COLUMNS,
    "diary_sequence": ("participant_id", "last_change_seq"),
}


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    user_id: uuid.UUID
    number: int
    day0: date
    unit: str
    withdrawn_at: datetime | None


def people(count: int, days: int, seed: int) -> list[Person]:
    """Day 0 spread over a month, the last diary day before today; one in twenty withdrawn along the way."""
    rng = random.Random(seed)
    found = []
    for n in range(count):
        day0 = NOW.date() - timedelta(days=days + rng.randint(1, 30))
        withdrawn = NOW - timedelta(days=rng.randint(60, 400)) if rng.random() < 0.05 else None
        unit = "mmol/L" if n % 4 == 3 else "mg/dL"
        found.append(Person(uuid.uuid4(), uuid.uuid4(), n, day0, unit, withdrawn))
    return found


# ---- COPY text format -------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (dict, list)):
        value = orjson.dumps(value).decode()
    elif isinstance(value, (datetime, date)):
        return value.isoformat()
    else:
        value = str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _line(values: tuple[Any, ...] | list[Any]) -> str:
    return "\t".join(map(_text, values)) + "\n"


# ---- one block of participants (runs in a worker process) ----------------------------------------------
def _templates() -> dict[str, list[str]]:
    """Each kind's `data` keys in the order the service stores them (parsed by its own entry models)."""
    from core.diary.parsing import kind_data, parse_entry

    samples = {
        "glucose": {"value": 100, "unit": "mg/dL", "context": "fasting", "source": "meter"},
        "insulin": {"units": 8, "insulin_type": "long", "purpose": "basal", "delivery": "pen"},
        "meal": {"carbs_g": 45, "meal_type": "lunch"},
        "hypo_event": {
            "symptoms": True,
            "needed_assistance": False,
            "treatment": ["oral_carbohydrate"],
            "unconscious_or_seizure": False,
        },
        "exercise": {"activity": "walking", "duration_min": 60, "intensity": "moderate"},
    }
    found = {}
    for kind, fields in samples.items():
        body = {"id": str(uuid.uuid4()), "kind": kind, "occurred_at": "2026-01-01T08:00:00+00:00", **fields}
        found[kind] = list(kind_data(parse_entry(body)))
    return found


def _glucose_value(rng: random.Random, context: str) -> float:
    if rng.random() < 0.04:
        return float(rng.randint(40, 69))  # a low now and then: episodes to find
    centre = {"fasting": 105, "postprandial": 150, "random": 130, "bedtime": 125}[context]
    return float(max(40, min(400, round(rng.gauss(centre, 30)))))


def _json(value: Any) -> str:
    """JSON for a COPY text field: orjson writes control characters escaped, so only backslashes double."""
    text = orjson.dumps(value).decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


class _Diary:
    """One participant's entries as COPY lines, shaped the way the service stores them.

    Rows are built here directly (the service's own builders take ~10x longer per row, too slow for 5.6 million
    entries); the first entry of each kind is also built with `core.diary.entries.audit_record` and `glucose_values`
    and must come out identical, key order included, or the generation stops.
    """

    def __init__(self, person: Person, seed: int, keys: dict[str, list[str]], out: dict[str, list[str]]):
        from core.protocol import DEFAULT_PROTOCOL

        self.person, self.keys, self.out = person, keys, out
        self.rng = random.Random(seed * 100_003 + person.number)
        self.rules = DEFAULT_PROTOCOL.glucose
        self.seq = 0
        self.pid, self.uid = str(person.id), str(person.user_id)
        self.checked: set[str] = set()

    def add(self, kind: str, at: datetime, fields: dict[str, Any], flags: list[str]) -> str:
        from core.diary.units import to_mg_dl

        self.seq += 1
        data = {k: fields.get(k) for k in self.keys[kind]}
        received = at + timedelta(minutes=self.rng.randint(0, 30))
        h = f"{self.rng.getrandbits(128):032x}"  # a random UUID, written out (uuid.UUID costs 10x more)
        entry_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"
        at_text, received_text, local = at.isoformat(), received.isoformat(), at.date().isoformat()
        at_z, received_z = at_text[:19] + "Z", received_text[:19] + "Z"
        record: dict[str, Any] = {
            "id": entry_id,
            "kind": kind,
            "participant_id": self.pid,
            "occurred_at": at_z,
            "utc_offset_minutes": 0,
            "local_date": local,
            "entered_at": at_z,
            "note": None,
            **data,
            "version": 1,
            "recorded_by": {"user_id": self.uid, "role": "participant", "relationship": "self"},
            "received_at": received_z,
            "updated_at": received_z,
            "source_app": APP[0],
            "source_app_version": APP[1],
            "late": False,
            "run_in": False,  # enrolled RUN_IN_DAYS before day 0: nothing was entered before enrolment
            "voided": False,
            "void_reason": None,
            "flags": flags,
            "alerts": [],
        }
        mg_dl = None
        if kind == "glucose":
            mg_dl = to_mg_dl(data["value"], data["unit"], MG_DL_PER_MMOL_L)
            record["value_mg_dl"] = round(mg_dl, 1)
        data_text, record_text = _json(data), _json(record)
        body_hash = hashlib.sha256(data_text.encode()).hexdigest()
        self.out["diary_entry"].append(
            f"{entry_id}\t{self.pid}\t{kind}\t{at_text}\t0\t{local}\t{at_text}\t{received_text}\t{received_text}"
            f"\t{self.uid}\tparticipant\tself\t{APP[0]}\t{APP[1]}\t\\N\t1\tf\t\\N\tf\tf\t{_json(flags)}\t[]"
            f"\t{data_text}\t{body_hash}\t{self.seq}\n"
        )
        self.out["diary_entry_version"].append(
            f"{entry_id}\t1\tcreate\t{record_text}\t{self.uid}\tparticipant\t{received_text}\t\\N\n"
        )
        if mg_dl is not None:
            after, meal = data.get("minutes_after_meal"), data.get("meal_id")
            after_text = "\\N" if after is None else str(after)
            meal_text = "\\N" if meal is None else meal
            self.out["glucose_reading"].append(
                f"{entry_id}\t{self.pid}\t{at_text}\t{local}\t{data['value']}\t{data['unit']}\t{mg_dl}"
                f"\t{data['context']}\t{after_text}\t{meal_text}\t{data['source']}\tf\n"
            )
        if kind not in self.checked:
            self._check(kind, entry_id, at, received, data, flags, body_hash, record)
        return entry_id

    def _check(self, kind: str, entry_id: str, at: datetime, received: datetime, data: dict[str, Any],
               flags: list[str], body_hash: str, record: dict[str, Any]) -> None:  # fmt: skip
        """The first entry of each kind again through the service's own builders: the same, or stop."""
        from core.diary.entries import NewEntry, audit_record, glucose_values

        row = NewEntry(
            id=uuid.UUID(entry_id), participant_id=self.person.id, kind=kind, occurred_at=at,
            utc_offset_minutes=0, local_date=at.date(), entered_at=at, received_at=received, updated_at=received,
            recorded_by_user_id=self.person.user_id, recorded_by_role="participant", relationship="self",
            source_app=APP[0], source_app_version=APP[1], note=None, version=1, voided=False, void_reason=None,
            late=False, run_in=False, flags=flags, alert_ids=[], data=data, body_hash=body_hash,
            change_seq=self.seq,
        )  # fmt: skip
        factor = MG_DL_PER_MMOL_L if kind == "glucose" else None
        expected = audit_record(row, factor)
        if list(expected.items()) != list(record.items()):
            raise AssertionError(f"the {kind} audit record differs from the service's:\n{expected}\n{record}")
        if kind == "glucose":
            typed = glucose_values(row, factor)
            line = self.out["glucose_reading"][-1].rstrip("\n").split("\t")
            for column, text in zip(GLUCOSE_COLUMNS, line, strict=True):
                value = typed[column]
                wanted = "\\N" if value is None else _text(value)
                if column in ("value", "value_mg_dl"):
                    same = float(text) == float(value)
                else:
                    same = text == wanted
                if not same:
                    raise AssertionError(f"glucose_reading.{column}: {text!r}, the service's {wanted!r}")
        self.checked.add(kind)

    def reading(self, context: str, at: datetime, since_meal: int, **more: Any) -> None:
        from core.rules.classify import MealTiming, classify_glucose

        unit = self.person.unit
        mg_dl = _glucose_value(self.rng, context)
        value = mg_dl if unit == "mg/dL" else round(mg_dl / MG_DL_PER_MMOL_L, 1)
        timing = MealTiming(
            minutes_after_meal=more.get("minutes_after_meal"), minutes_since_logged_meal=since_meal
        )
        flags = classify_glucose(value=value, unit=unit, context=context, timing=timing, rules=self.rules)
        self.add(
            "glucose",
            at,
            {"value": value, "unit": unit, "context": context, "source": "meter", **more},
            flags,
        )

    def day(self, day: int) -> None:
        rng, local = self.rng, self.person.day0 + timedelta(days=day)
        midnight = datetime.combine(local, datetime.min.time(), UTC)

        def at(minute: int, spread: int = 20) -> datetime:
            return midnight + timedelta(minutes=minute + rng.randint(-spread, spread))

        lunch_at = at(12 * 60, 30)
        self.reading("fasting", at(7 * 60), 17 * 60)
        basal = {"units": rng.randint(10, 16), "insulin_type": "long", "purpose": "basal", "delivery": "pen"}
        self.add("insulin", at(7 * 60 + 10), basal, [])
        lunch = self.add("meal", lunch_at, {"carbs_g": rng.randint(30, 90), "meal_type": "lunch"}, [])
        bolus = {"units": rng.randint(3, 9), "insulin_type": "rapid", "purpose": "meal", "delivery": "pen"}
        self.add("insulin", lunch_at + timedelta(minutes=5), bolus, [])
        minutes = rng.randint(80, 130)
        self.reading(
            "postprandial", lunch_at + timedelta(minutes=minutes), minutes, minutes_after_meal=minutes,
            meal_id=lunch,
        )  # fmt: skip
        self.reading("random", at(19 * 60), 7 * 60)
        self.reading("bedtime", at(22 * 60), 10 * 60)
        if day % 7 == 3:
            event = {
                "symptoms": True,
                "needed_assistance": rng.random() < 0.05,
                "treatment": ["oral_carbohydrate"],
                "unconscious_or_seizure": False,
            }
            self.add("hypo_event", at(16 * 60, 120), event, [])
        if day % 7 in (0, 2, 4):
            self.add(
                "exercise",
                at(18 * 60, 60),
                {"activity": "walking", "duration_min": 60, "intensity": "moderate"},
                [],
            )


def diary_block(args: tuple[list[Person], int, int]) -> dict[str, bytes]:
    """COPY text of every diary table for a block of participants: D days each plus the run-in days."""
    persons, days, seed = args
    keys = _templates()
    out: dict[str, list[str]] = {table: [] for table in TABLES}
    for person in persons:
        diary = _Diary(person, seed, keys, out)
        for day in range(-RUN_IN_DAYS, days):
            moment = datetime.combine(person.day0 + timedelta(days=day), datetime.min.time(), UTC)
            if person.withdrawn_at is not None and moment > person.withdrawn_at + timedelta(days=3):
                break  # a few days' entries after the withdrawal, then the phone goes quiet
            diary.day(day)
        out["diary_sequence"].append(_line([person.id, diary.seq]))
    return {table: "".join(lines).encode() for table, lines in out.items()}


# ---- the load (main process) -------------------------------------------------------------------------------
async def _study(con: asyncpg.Connection, persons: list[Person]) -> dict[str, Any]:
    """Study, protocol, sites, arms, a statistician and the participants (with their logins and weights)."""
    from core.protocol import DEFAULT_PROTOCOL

    study_id, statistician = uuid.uuid4(), uuid.uuid4()
    await con.execute(
        "INSERT INTO user_account (id, email, password_hash, role, active, token_version, created_at)"
        " VALUES ($1, 'stat@bench.invalid', '!', 'statistician', true, 0, $2)",
        statistician,
        NOW,
    )
    await con.execute(
        "INSERT INTO study (id, code, name, timezone, blinded, protocol_version, created_at)"
        " VALUES ($1, 'BENCHREP', 'Bench reports', 'UTC', true, 1, $2)",
        study_id,
        NOW,
    )
    await con.execute(
        "INSERT INTO protocol_version (id, study_id, version, settings, created_at) VALUES ($1, $2, 1, $3, $4)",
        uuid.uuid4(),
        study_id,
        orjson.dumps(DEFAULT_PROTOCOL.model_dump(mode="json")).decode(),
        NOW,
    )
    sites = {code: uuid.uuid4() for code in SITES}
    arms = {code: uuid.uuid4() for code in ARMS}
    await con.executemany(
        "INSERT INTO site (id, study_id, code, name, timezone) VALUES ($1, $2, $3, $3, 'UTC')",
        [(site, study_id, code) for code, site in sites.items()],
    )
    await con.executemany(
        "INSERT INTO arm (id, study_id, code, name) VALUES ($1, $2, $3, $3)",
        [(arm, study_id, code) for code, arm in arms.items()],
    )
    await con.execute(
        "INSERT INTO staff_assignment (id, user_id, study_id, site_id, role, created_at)"
        " VALUES ($1, $2, $3, NULL, 'statistician', $4)",
        uuid.uuid4(),
        statistician,
        study_id,
        NOW,
    )
    await con.copy_records_to_table(
        "user_account",
        records=[
            (p.user_id, f"p{p.number}@bench.invalid", "!", "participant", True, 0, NOW) for p in persons
        ],
        columns=["id", "email", "password_hash", "role", "active", "token_version", "created_at"],
    )
    columns = [
        "id", "study_id", "site_id", "arm_id", "subject_code", "user_id", "sex", "birth_date", "enrolled_at",
        "treatment_date", "status", "timezone", "withdrawn_at", "created_at",
    ]  # fmt: skip
    await con.copy_records_to_table(
        "participant",
        records=[
            (
                p.id,
                study_id,
                sites[SITES[p.number % len(SITES)]],
                arms[ARMS[p.number % len(ARMS)]],
                f"R-{p.number:05d}",
                p.user_id,
                "female" if p.number % 2 else "male",
                date(1990 + p.number % 25, 1 + p.number % 12, 1),
                datetime.combine(p.day0 - timedelta(days=RUN_IN_DAYS), datetime.min.time(), UTC),
                p.day0,
                "withdrawn" if p.withdrawn_at else "enrolled",
                "UTC",
                p.withdrawn_at,
                NOW,
            )
            for p in persons
        ],
        columns=columns,
    )
    await con.copy_records_to_table(
        "participant_weight",
        records=[
            (
                uuid.uuid4(),
                p.id,
                datetime.combine(p.day0, datetime.min.time(), UTC),
                55.0 + p.number % 30,
                "enrolment",
            )
            for p in persons
        ],
        columns=["id", "participant_id", "measured_at", "kg", "source"],
    )
    return {"study_id": study_id, "user_id": statistician}


async def _secondary_indexes(con: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await con.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[]) AND NOT x.indisprimary",
        list(TABLES),
    )
    return [(r["indexname"], r["indexdef"]) for r in rows]


async def generate(
    dsn: str, participants: int, days: int, *, seed: int = 7, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """The cohort through COPY; the ids the measurements need and the time of each phase."""
    persons = people(participants, days, seed)
    con = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        ids = await _study(con, persons)
        indexes = await _secondary_indexes(con)
        for name, _ in indexes:
            await con.execute(f'DROP INDEX "{name}"')
        # the load's own session: no foreign-key triggers (consistent by construction)
        await con.execute("SET session_replication_role = replica")
        blocks = [persons[i : i + BLOCK] for i in range(0, len(persons), BLOCK)]
        counts = {table: 0 for table in TABLES}
        context = multiprocessing.get_context("fork")
        with context.Pool(processes=WORKERS) as pool:
            waiting: deque[Any] = deque()
            for block in blocks[:3]:
                waiting.append(pool.apply_async(diary_block, ((block, days, seed),)))
            for n in range(len(blocks)):
                payload = waiting.popleft().get(timeout=900)
                if n + 3 < len(blocks):
                    waiting.append(pool.apply_async(diary_block, ((blocks[n + 3], days, seed),)))
                for table, columns in TABLES.items():
                    await con.copy_to_table(
                        table, source=BytesIO(payload[table]), columns=columns, format="text"
                    )
                    counts[table] += payload[table].count(b"\n")
                if (n + 1) % max(1, len(blocks) // 10) == 0:
                    done = min(len(persons), (n + 1) * BLOCK)
                    say(f"  {done} participants copied, {time.perf_counter() - started:.0f} s")
        timings["copy_s"] = time.perf_counter() - started
        await con.execute("RESET session_replication_role")
        mark = time.perf_counter()
        for _, definition in indexes:
            await con.execute(definition)
        timings["indexes_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        await con.execute("VACUUM ANALYZE")
        timings["vacuum_s"] = time.perf_counter() - mark
        timings["total_s"] = time.perf_counter() - started
        size = await con.fetchval("SELECT pg_database_size(current_database())")
        return {
            **ids,
            "people": [p.id for p in persons],
            "counts": counts,
            "timings": timings,
            "size_bytes": size,
        }
    finally:
        await con.close()
