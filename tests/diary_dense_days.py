"""Dense days: five 1,000-entry batches into the same two days of one participant, each batch timed.

A batch's cost must not grow with what the days already hold (issue 13: 4.7, 5.0, 7.5, 7.3, 9.5 s before).
Run: `.venv/bin/python -m tests.diary_dense_days` (PostgreSQL at GLUCODIARY_TEST_PG_URL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres; `--sqlite` for a SQLite file). Prints one line per
batch and the 5th/1st ratio (target: at most 1.2). A figure, not a test: it asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from core import migrations
from core.access import Actor
from core.db import build_engine
from core.diary import batch as diary_batch
from core.models.people import Role
from tests import factories as f

PG_SERVER = os.environ.get("GLUCODIARY_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
BATCHES, SIZE = 5, 1000
DAYS = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))


def _entries(rng: random.Random) -> list[dict[str, Any]]:
    """A phone's week offline squeezed into two days: readings of every context (lows and highs among them),
    meals, doses, exercise and hypo events, at random minutes of the two days."""
    items: list[dict[str, Any]] = []
    for _ in range(SIZE):
        at = rng.choice(DAYS) + timedelta(minutes=rng.randrange(6 * 60, 23 * 60))
        common = {"id": str(uuid.uuid4()), "occurred_at": at.isoformat()}
        roll = rng.random()
        if roll < 0.6:
            context = rng.choice(["fasting", "pre_meal", "postprandial", "bedtime", "random"])
            value = rng.choice([62, 95, 105, 125, 150, 190])
            items.append({**common, "kind": "glucose", "value": value, "unit": "mg/dL", "context": context})
        elif roll < 0.75:
            meal_type = rng.choice(["breakfast", "lunch", "dinner", "snack"])
            items.append({**common, "kind": "meal", "carbs_g": 50, "meal_type": meal_type})
        elif roll < 0.9:
            items.append(
                {**common, "kind": "insulin", "units": 4, "insulin_type": "rapid", "purpose": "meal"}
            )
        elif roll < 0.95:
            items.append(
                {**common, "kind": "exercise", "activity": "walk", "duration_min": 30, "intensity": "light"}
            )
        else:
            items.append(
                {
                    **common,
                    "kind": "hypo_event",
                    "symptoms": True,
                    "needed_assistance": False,
                    "treatment": ["oral_carbohydrate"],
                    "unconscious_or_seizure": False,
                }
            )
    return items


async def _run(url: str) -> list[float]:
    engine = build_engine(url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            study = await f.create_study(session)
            participant = await f.create_participant(session, study)
            await f.create_staff(session, study, Role.clinician)
            user = await f.participant_user(session, participant)
            await session.commit()
        actor = Actor.of(user)
        rng = random.Random(13)
        timings = []
        for number in range(1, BATCHES + 1):
            items = _entries(rng)
            async with AsyncSession(engine, expire_on_commit=False) as session:
                started = time.perf_counter()
                results = await diary_batch.record_batch(
                    session=session, actor=actor, participant=participant, entries_in=items
                )
                await session.commit()
                elapsed = time.perf_counter() - started
            created = sum(r["status"] == "created" for r in results)
            timings.append(elapsed)
            print(f"batch {number}: {elapsed:6.2f} s  ({created} created)", flush=True)
        return timings
    finally:
        await engine.dispose()


async def _admin(statement: str) -> None:
    engine = create_async_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def main() -> None:
    os.environ.setdefault("GLUCODIARY_ENV", "test")
    os.environ.setdefault("GLUCODIARY_DATA_DIR", tempfile.mkdtemp(prefix="glucodiary-dense-"))
    if "--sqlite" in sys.argv:
        url, name = f"sqlite+aiosqlite:///{Path(os.environ['GLUCODIARY_DATA_DIR']) / 'dense.db'}", None
    else:
        name = f"glucodiary_dense_{os.getpid()}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrations.upgrade(url)
        timings = asyncio.run(_run(url))
        print(f"5th / 1st batch: {timings[-1] / timings[0]:.2f} (target <= 1.2)")
    finally:
        if name:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
