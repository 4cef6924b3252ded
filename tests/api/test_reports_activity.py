"""Completeness and exercise reports against a hand-worked participant."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API


async def test_completeness_and_exercise_per_week_and_frame(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # day 0 2026-06-01; clock 2026-06-15, so the data cut is 2026-06-16: weeks 06-01..07 (7 days), 06-08..14 (7),
    # 06-15 (1 day). Fasting: 06-01 90, 06-02 100 and 120, 06-05 95, 06-09 130. Exercise: 06-02 60 min,
    # 06-04 60 min, 06-09 30 min.
    clock.set_now(datetime(2026, 6, 15, 12, 0, tzinfo=UTC))
    study = await f.create_study(session)
    participant = await f.create_participant(
        session, study, treatment_date=date(2026, 6, 1), enrolled_at=datetime(2026, 5, 25, tzinfo=UTC)
    )
    staff = f.auth_headers(await f.create_staff(session, study, Role.statistician, site_codes=None))
    readings = [("06-01", 90), ("06-02", 100), ("06-02", 120), ("06-05", 95), ("06-09", 130)]
    entries = [
        entry_body(occurred_at=f"2026-{d}T07:{n:02d}:00+02:00", value=v, unit="mg/dL", context="fasting")
        for n, (d, v) in enumerate(readings)
    ]
    entries += [
        entry_body("exercise", occurred_at=f"2026-{d}T18:00:00+02:00", activity="walking", duration_min=m)
        for d, m in (("06-02", 60), ("06-04", 60), ("06-09", 30))
    ]
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    stored = await client.post(
        f"{entries_path(participant)}/batch", json={"entries": entries}, headers=clinician
    )
    assert stored.status_code == 200 and {r["status"] for r in stored.json()["results"]} == {"created"}

    weeks = (await client.get(f"{API}/studies/{study.id}/reports/completeness", headers=staff)).json()["rows"]
    # week 1: 4 fasting readings on 3 of 7 days = 42.9 %; week 2: 1 on 1 of 7 = 14.3 %; week 3: 0 of 1 day
    assert [
        (
            w["week"],
            w["week_start"],
            w["week_end"],
            w["expected_fasting"],
            w["fasting_readings"],
            w["days_with_fasting"],
            w["completeness_pct"],
        )
        for w in weeks
    ] == [
        (1, "2026-06-01", "2026-06-07", 7, 4, 3, 42.9),
        (2, "2026-06-08", "2026-06-14", 7, 1, 1, 14.3),
        (3, "2026-06-15", "2026-06-21", 1, 0, 0, 0.0),
    ]
    [frame] = (await client.get(f"{API}/studies/{study.id}/reports/exercise", headers=staff)).json()["rows"]
    # 15 days on study = 2.143 weeks: 3 sessions = 1.4 a week, 150 min = 70.0 min a week, 38.9 % of 3 x 60 min;
    # exercise days 06-02 and 06-09: readings 100, 120, 130 = 116.7; other days 90, 95 = 92.5
    assert {k: frame[k] for k in ("sessions", "minutes", "sessions_per_week", "minutes_per_week")} == {
        "sessions": 3,
        "minutes": 150,
        "sessions_per_week": 1.4,
        "minutes_per_week": 70.0,
    }
    assert (frame["regimen_minutes_per_week"], frame["regimen_minutes_pct"]) == (180, 38.9)
    assert (frame["mean_mg_dl_exercise_days"], frame["mean_mg_dl_other_days"]) == (116.7, 92.5)
