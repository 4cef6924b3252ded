"""The insulin report on a synthetic cohort whose change categories are known by construction, boundaries
included (exactly 15 % and 50 %, and values that round onto or off 15.0)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from tests import factories as f
from tests.factories import entries_path, entry_body
from tests.urls import API

# day 0 2026-03-01, clock 2026-03-21: frame 1 runs 03-01..03-21 (21 days). Baseline: 20 IU on 02-20 and 02-21
# (the other 12 baseline days have no dose and no discontinuation: no data), so baseline TDD = 20 IU/day.
# Each participant then doses `tdd` IU a day on 03-02, 03-03 and 03-04: change = 100 x (tdd - 20) / 20.
COHORT: list[tuple[str, float, float, str]] = [
    ("A", 20, 0.0, "maintained"),
    ("B", 22.988, 14.9, "maintained"),  # 14.94 rounds to 14.9
    ("J", 17.012, -14.9, "maintained"),  # -14.94 rounds to -14.9
    ("C", 22.992, 15.0, "increased_15_50"),  # 14.96 rounds to 15.0: on the boundary after rounding
    ("D", 23, 15.0, "increased_15_50"),  # exactly +15 %
    ("E", 30, 50.0, "increased_15_50"),  # exactly +50 %
    ("F", 31, 55.0, "increased_over_50"),
    ("G", 17, -15.0, "reduced_15_50"),  # exactly -15 %
    ("H", 10, -50.0, "reduced_15_50"),  # exactly -50 %
    ("I", 9, -55.0, "reduced_over_50"),
]


def dose(day: str, units: float) -> dict[str, Any]:
    return entry_body("insulin", occurred_at=f"2026-{day}T08:00:00+01:00", units=units)


def baseline() -> list[dict[str, Any]]:
    return [dose("02-20", 20), dose("02-21", 20)]


def status(day: str, value: str) -> dict[str, Any]:
    return entry_body("insulin_status", occurred_at=f"2026-{day}T20:00:00+01:00", status=value)


async def test_change_categories_and_their_boundaries(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock.set_now(datetime(2026, 3, 21, 12, 0, tzinfo=UTC))
    study = await f.create_study(session)
    clinician = f.auth_headers(await f.create_staff(session, study, Role.clinician))
    statistician = f.auth_headers(await f.create_staff(session, study, Role.statistician, site_codes=None))
    diaries: dict[str, list[dict[str, Any]]] = {
        code: [*baseline(), *(dose(d, tdd) for d in ("03-02", "03-03", "03-04"))]
        for code, tdd, _, _ in COHORT
    }
    # A weighed 50 kg on 03-10: 20 IU/day / 50 kg = 0.4 IU/kg/day (the others: 60 kg at enrolment)
    diaries["A"].append(entry_body("weight", occurred_at="2026-03-10T07:00:00+01:00", kg=50))
    # K stopped insulin on 03-05 after 20 IU on 03-01 and 03-02: 2 dose days + 17 days at 0 (03-05..03-21) = 19
    # days with data, 40 / 19 = 2.1 IU/day; discontinued on the frame's last day
    diaries["K"] = [*baseline(), dose("03-01", 20), dose("03-02", 20), status("03-05", "discontinued")]
    # L stopped on 03-05 and resumed on 03-10: 20 IU on 03-01, 03-10, 03-11 + 5 days at 0 (03-05..03-09) = 8 days,
    # 60 / 8 = 7.5 IU/day: -62.5 %, reduced by more than half (not "discontinued": insulin was resumed)
    diaries["L"] = [
        *baseline(),
        dose("03-01", 20),
        status("03-05", "discontinued"),
        status("03-10", "resumed"),
        dose("03-10", 20),
        dose("03-11", 20),
    ]
    codes = {}
    for code, entries in diaries.items():
        participant = await f.create_participant(
            session, study, subject_code=f"INS-{code}", treatment_date=date(2026, 3, 1),
            enrolled_at=datetime(2026, 2, 10, tzinfo=UTC),
        )  # fmt: skip
        codes[code] = participant
        answer = await client.post(
            f"{entries_path(participant)}/batch",
            json={"entries": entries},
            headers=clinician,
        )
        assert {r["status"] for r in answer.json()["results"]} == {"created"}, answer.text
    rows = (await client.get(f"{API}/studies/{study.id}/reports/insulin", headers=statistician)).json()[
        "rows"
    ]
    found = {r["subject_code"][4:]: r for r in rows}
    for code, tdd, change, category in COHORT:
        row = found[code]
        assert (row["days_with_data"], row["baseline_tdd_iu"]) == (3, 20.0), code
        assert (row["tdd_iu"], row["change_pct"], row["change_category"]) == (
            round(tdd, 1),
            change,
            category,
        ), code
    assert found["A"]["iu_per_kg"] == 0.4 and found["D"]["iu_per_kg"] == 0.38  # 23 / 60 = 0.383
    k, l_ = found["K"], found["L"]
    assert (k["days_with_data"], k["tdd_iu"], k["change_category"]) == (19, 2.1, "discontinued")
    assert (l_["days_with_data"], l_["tdd_iu"], l_["change_pct"], l_["change_category"]) == (
        8,
        7.5,
        -62.5,
        "reduced_over_50",
    )
