"""The realistic request mix of the open-loop benchmark: what 1,000 participants' phones send, as raw HTTP/1.1.

70 % one glucose reading (POST .../entries, rules on), 10 % a phone back online (a batch of 20 entries:
readings, meals and insulin doses over the last two days), 15 % the newest list page, 5 % a changes-feed page.
Each request goes to a participant drawn at random, with that participant's own token. Runs inside the load
generator (bench/loadgen.py); the entry ids it sends are returned so acknowledged entries can be counted.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import orjson

MIX: dict[str, float] = {"post": 0.70, "batch": 0.10, "list": 0.15, "changes": 0.05}
# Not part of the mix: one INSERT through FastAPI and an AsyncSession (bench/apps.py stack_floor_app), sent on the
# same open-loop schedule to show what tail any endpoint of this stack has at half its own capacity.
FLOOR = "floor"
FLOOR_PATH = "/glucose"
BATCH_ENTRIES = 20
LIST_LIMIT = 100
CHANGES_LIMIT = 100
USER_AGENT = "GlucodiaryApp/2.3.1 (bench)"
OFFSET = timezone(timedelta(hours=1))  # the seeded participants live in Europe/Ljubljana (winter time)
CONTEXTS = ("fasting", "pre_meal", "postprandial", "bedtime", "random")


@dataclass(frozen=True)
class Person:
    participant_id: str
    token: str


@dataclass(frozen=True)
class Prepared:
    """One request ready to send: its bytes, its kind, and the entry ids it carries (POSTs)."""

    kind: str
    raw: bytes
    entry_ids: tuple[str, ...] = ()


def read_people(path: str) -> list[Person]:
    people = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            fields = line.split()
            if len(fields) == 2:
                people.append(Person(fields[0], fields[1]))
    if not people:
        raise ValueError(f"no participants in {path}")
    return people


def _http(method: str, path: str, person: Person, host: str, body: bytes | None = None) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {person.token}\r\n"
        f"User-Agent: {USER_AGENT}\r\nAccept: application/json\r\n"
    )
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def _at(moment: datetime) -> str:
    return moment.astimezone(OFFSET).isoformat(timespec="seconds")


def _glucose(rng: random.Random, moment: datetime) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),  # never seeded: a later run must not repeat ids
        "kind": "glucose",
        "occurred_at": _at(moment),
        "value": round(rng.uniform(3.2, 14.5), 1),  # some lows and highs: the rules flag and alert
        "unit": "mmol/L",
        "context": rng.choice(CONTEXTS),
        "source": "meter",
    }


def _offline_day(rng: random.Random, now: datetime) -> list[dict[str, object]]:
    """20 entries a phone kept while offline over the last two days: 10 readings, 4 meals, 6 insulin doses."""
    times = sorted(now - timedelta(minutes=rng.randint(30, 48 * 60)) for _ in range(BATCH_ENTRIES))
    kinds = ["glucose"] * 10 + ["meal"] * 4 + ["insulin"] * 6
    rng.shuffle(kinds)
    items: list[dict[str, object]] = []
    for kind, moment in zip(kinds, times, strict=True):
        if kind == "glucose":
            items.append(_glucose(rng, moment))
            continue
        item: dict[str, object] = {
            "id": str(uuid.uuid4()),  # never seeded: a later run must not repeat ids
            "kind": kind,
            "occurred_at": _at(moment),
        }
        if kind == "meal":
            item.update(carbs_g=rng.randint(15, 90), meal_type=rng.choice(("breakfast", "lunch", "dinner")))
        else:
            item.update(units=rng.randint(1, 12), insulin_type="rapid", purpose="meal", delivery="pen")
        items.append(item)
    return items


def builder(people: list[Person], host: str, seed: int) -> Callable[[str], Prepared]:
    """A function kind -> the next request of that kind, to a participant drawn at random."""
    rng = random.Random(seed)

    def build(kind: str) -> Prepared:
        person = people[rng.randrange(len(people))]
        base = f"/api/v1/participants/{person.participant_id}"
        now = datetime.now(UTC)
        if kind == "post":
            entry = _glucose(rng, now - timedelta(seconds=rng.randint(5, 1800)))
            body = orjson.dumps(entry)
            return Prepared(kind, _http("POST", f"{base}/entries", person, host, body), (str(entry["id"]),))
        if kind == "batch":
            items = _offline_day(rng, now)
            body = orjson.dumps({"entries": items})
            ids = tuple(str(i["id"]) for i in items)
            return Prepared(kind, _http("POST", f"{base}/entries/batch", person, host, body), ids)
        if kind == "list":
            return Prepared(kind, _http("GET", f"{base}/entries?limit={LIST_LIMIT}", person, host))
        if kind == "changes":
            path = f"{base}/changes?since=0&limit={CHANGES_LIMIT}"
            return Prepared(kind, _http("GET", path, person, host))
        if kind == FLOOR:
            entry = {"id": str(uuid.uuid4()), "value": 5.8, "unit": "mmol/L", "occurred_at": _at(now)}
            body = orjson.dumps(entry)
            return Prepared(kind, _http("POST", FLOOR_PATH, person, host, body), (str(entry["id"]),))
        if kind == "episodes":  # the reports section: a participant's episodes, read with a staff token
            return Prepared(kind, _http("GET", f"{base}/episodes", person, host))
        raise ValueError(f"unknown request kind {kind!r}; known: {', '.join([*MIX, FLOOR, 'episodes'])}")

    return build


def acknowledged(prepared: Prepared, status: int, body: bytes) -> list[str]:
    """The entry ids an answer acknowledges as stored (201/200 for one entry; created/duplicate items)."""
    if prepared.kind in ("post", FLOOR):
        return list(prepared.entry_ids) if status in (200, 201) else []
    if prepared.kind == "batch" and status == 200:
        results = orjson.loads(body).get("results", [])
        return [r["id"] for r in results if r.get("status") in ("created", "duplicate")]
    return []
