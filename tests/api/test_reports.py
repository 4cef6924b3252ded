"""Study reports over HTTP against the hand-worked cohort of reports_cohort.py (read its docstring first)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories as f
from tests.api.reports_cohort import Cohort, build_cohort
from tests.factories import entries_path
from tests.urls import API

REPORTS = ("hypoglycemia", "glycemic-control")


def path(cohort: Cohort, report: str) -> str:
    return f"{API}/studies/{cohort.study.id}/reports/{report}"


async def get(
    client: httpx.AsyncClient, cohort: Cohort, report: str, who: str, **params: str
) -> httpx.Response:
    return await client.get(path(cohort, report), params=params, headers=f.auth_headers(cohort.users[who]))


def pick(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[n] for n in names) for row in rows]


HYPO = ("subject_code", "frame", "exposure_years", "episodes", "level_1", "level_2", "level_3", "severe")
CATEGORIES = ("documented_symptomatic", "asymptomatic", "probable_symptomatic", "pseudo_hypoglycemia")


async def test_hypoglycemia_rows_and_rates_are_the_hand_worked_ones(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await build_cohort(client, session)
    answer = await get(client, cohort, "hypoglycemia", "statistician")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["filters"] == {"site": None, "arm": None, "from": None, "to": "2026-08-02"}
    p1, p2, p3 = cohort.p1.subject_code, cohort.p2.subject_code, cohort.p3.subject_code
    # exposure: P1 frame 1 = 01-12..04-12 = 90 days / 365.25 = 0.2464; frame 2 = 91 days = 0.2491; frame 3 =
    # 07-12..08-02 (cut) = 21 days = 0.0575. P2 = 02-01..03-15 (withdrawal) = 42 days = 0.1150 (frames 2+ start
    # after it: no rows). P3 = 06-01..08-02 = 62 days = 0.1697, no readings (a frame with nothing: zeros).
    assert pick(body["rows"], *HYPO) == [
        (p1, 1, 0.2464, 2, 1, 1, 0, 0),
        (p1, 2, 0.2491, 1, 0, 0, 1, 1),
        (p1, 3, 0.0575, 0, 0, 0, 0, 0),
        (p2, 1, 0.115, 1, 0, 1, 0, 0),  # the 3.2 mmol/L after the withdrawal is not counted
        (p3, 1, 0.1697, 0, 0, 0, 0, 0),
    ]
    assert pick(body["rows"], *CATEGORIES) == [
        (1, 1, 0, 1),
        (0, 0, 0, 0),
        (0, 0, 0, 0),
        (0, 1, 0, 0),
        (0, 0, 0, 0),
    ]
    assert pick(body["rows"][:1], "site_code", "arm_code", "frame_start", "frame_end") == [
        ("S1", "A", "2026-01-12", "2026-04-11")
    ]
    agg = (
        "frame",
        "site_code",
        "arm_code",
        "participants",
        "participants_with_episode",
        "episodes",
        "severe",
    )
    rates = ("exposure_years", "episodes_per_patient_year", "episodes_per_100_patient_years")
    frame1 = [a for a in body["aggregates"] if a["frame"] == 1]
    # S1: 3 episodes over (90 + 42) / 365.25 = 0.3614 patient-years = 8.301 per patient-year, 830.1 per 100
    # S2: none over 0.1697; all sites: 3 over 194 / 365.25 = 0.5311 = 5.648 (564.8 per 100); arm A: P1 and P3,
    # 2 episodes over 152 days = 0.4162 = 4.806; arm B: P2, 1 over 0.1150 = 8.696
    assert pick(frame1, *agg) == [
        (1, "S1", None, 2, 2, 3, 0),
        (1, "S2", None, 1, 0, 0, 0),
        (1, None, None, 3, 2, 3, 0),
        (1, None, "A", 2, 1, 2, 0),
        (1, None, "B", 1, 1, 1, 0),
    ]
    assert pick(frame1, *rates) == [
        (0.3614, 8.301, 830.1),
        (0.1697, 0.0, 0.0),
        (0.5311, 5.648, 564.8),
        (0.4162, 4.806, 480.6),
        (0.115, 8.696, 869.6),
    ]
    assert pick(frame1, "participants_with_episode_pct") == [(100.0,), (0.0,), (66.7,), (50.0,), (100.0,)]
    frame2 = [
        a for a in body["aggregates"] if a["frame"] == 2 and a["site_code"] is None and a["arm_code"] is None
    ]
    # one severe episode over 0.2491 patient-years: 401.4 per 100 patient-years
    assert pick(frame2, "severe", "severe_per_100_patient_years") == [(1, 401.4)]


async def test_glycemic_control_rows_are_the_hand_worked_ones(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await build_cohort(client, session)
    body = (await get(client, cohort, "glycemic-control", "statistician")).json()
    first = body["rows"][0]
    # P1 frame 1: 62 66 95 45 85 100 120 150 130 -> n 9, sum 853, mean 94.8; sum of squares 90,275:
    # SD = sqrt((90275 - 853^2/9) / 8) = sqrt(1178.69) = 34.3; CV = 34.33 / 94.78 = 36.2 %
    # fasting 45 (below range), 100 (in), 120 (above): n 3, mean 88.3, 33.3 % in range
    # postprandial 150 (>= 140), 130: n 2, mean 140.0, 50.0 % in range; below 70: 62 66 45 = 33.3 %; below 54: 11.1 %
    assert {k: first[k] for k in first if k not in ("subject_code", "site_code", "arm_code")} == {
        "frame": 1,
        "frame_start": "2026-01-12",
        "frame_end": "2026-04-11",
        "exposure_years": 0.2464,
        "readings": 9,
        "fasting_n": 3,
        "fasting_mean_mg_dl": 88.3,
        "fasting_in_range_pct": 33.3,
        "postprandial_n": 2,
        "postprandial_mean_mg_dl": 140.0,
        "postprandial_in_range_pct": 50.0,
        "mean_mg_dl": 94.8,
        "sd_mg_dl": 34.3,
        "cv_pct": 36.2,
        "below_70_pct": 33.3,
        "below_54_pct": 11.1,
    }
    p2 = body["rows"][3]
    # P2 (mmol/L): 2.9 5.0 6.5 = 52.25 90.08 117.10 mg/dL, mean 86.5, SD 32.6, CV 37.7 %; fasting 5.0 (in
    # 3.9-6.1) and 6.5 (above): mean 103.6, 50 %; 2.9 is below 3.9 and below 3.0: 33.3 % each
    assert pick(
        [p2], "readings", "mean_mg_dl", "sd_mg_dl", "cv_pct", "fasting_mean_mg_dl", "fasting_in_range_pct"
    ) == [(3, 86.5, 32.6, 37.7, 103.6, 50.0)]
    assert pick([p2], "below_70_pct", "below_54_pct", "postprandial_n", "postprandial_mean_mg_dl") == [
        (33.3, 33.3, 0, None)
    ]
    # a frame with no readings: counts 0, figures empty
    assert pick(body["rows"][4:], "readings", "mean_mg_dl", "sd_mg_dl") == [(0, None, None)]
    s1 = body["aggregates"][0]
    # S1 frame 1: the 12 readings of P1 and P2 together; fasting 45 100 120 90.08 117.10 -> mean 94.4, 2 of 5 in range
    assert pick(
        [s1],
        "site_code",
        "participants",
        "readings",
        "fasting_n",
        "fasting_mean_mg_dl",
        "fasting_in_range_pct",
    ) == [("S1", 2, 12, 5, 94.4, 40.0)]


async def test_the_diary_changing_changes_the_report(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await build_cohort(client, session)
    before = (await get(client, cohort, "hypoglycemia", "statistician")).json()["rows"][3]
    assert before["episodes"] == 1
    # P2's 2.9 mmol/L reading is voided: their only episode goes
    reading = (
        await client.get(
            entries_path(cohort.p2),
            params={"kind": "glucose"},
            headers=f.auth_headers(cohort.users["coordinator"]),
        )
    ).json()["items"]
    low = next(e for e in reading if e["value"] == 2.9)
    voided = await client.delete(
        entries_path(cohort.p2, low["id"]),
        params={"reason": "test strip error"},
        headers=f.auth_headers(cohort.users["coordinator"]),
    )
    assert voided.status_code == 200, voided.text
    after = (await get(client, cohort, "hypoglycemia", "statistician")).json()["rows"][3]
    assert (after["subject_code"], after["episodes"]) == (cohort.p2.subject_code, 0)


async def test_from_and_to_clip_exposure_and_events(client: httpx.AsyncClient, session: AsyncSession) -> None:
    cohort = await build_cohort(client, session)
    body = (
        await get(
            client, cohort, "hypoglycemia", "statistician", **{"from": "2026-02-01", "to": "2026-03-05"}
        )
    ).json()
    # P1 frame 1 from 02-01 to 03-05: 32 days = 0.0876, with the 03-02 episode (the 03-10 one is after the cut);
    # P2 02-01..03-05: 32 days; P3 starts after the cut: no row
    assert pick(
        body["rows"], "subject_code", "frame", "exposure_years", "episodes", "pseudo_hypoglycemia"
    ) == [
        (cohort.p1.subject_code, 1, 0.0876, 1, 1),
        (cohort.p2.subject_code, 1, 0.0876, 1, 0),
    ]
    empty = await get(
        client, cohort, "hypoglycemia", "statistician", **{"from": "2026-03-05", "to": "2026-03-05"}
    )
    assert empty.status_code == 422 and empty.json()["fields"][0]["path"] == "to"


@pytest.mark.parametrize("report", REPORTS)
async def test_who_sees_what_and_blinding(
    client: httpx.AsyncClient, session: AsyncSession, report: str
) -> None:
    cohort = await build_cohort(client, session)
    p1, p2, p3 = cohort.p1.subject_code, cohort.p2.subject_code, cohort.p3.subject_code
    # the coordinator at S1 is blinded: S1 participants, no arm anywhere, no arm rows, and arm= is a 403
    for fmt in ("json", "csv"):
        answer = await get(client, cohort, report, "coordinator", format=fmt)
        assert answer.status_code == 200
        assert "arm_code" not in answer.text
    coordinator = (await get(client, cohort, report, "coordinator")).json()
    assert {r["subject_code"] for r in coordinator["rows"]} == {p1, p2}
    assert all("arm_code" not in a for a in coordinator["aggregates"])
    for fmt in ("json", "csv"):
        refused = await get(client, cohort, report, "coordinator", arm="A", format=fmt)
        assert refused.status_code == 403 and "blinded" in refused.json()["detail"]
    # the clinician at S2 sees S2 only and may not ask for S1
    clinician = (await get(client, cohort, report, "clinician_s2")).json()
    assert {r["subject_code"] for r in clinician["rows"]} == {p3}
    other_site = await get(client, cohort, report, "clinician_s2", site="S1")
    assert other_site.status_code == 422
    assert other_site.json()["fields"] == [{"path": "site", "message": "'S1' is not allowed; allowed: S2"}]
    # the statistician (unblinded) filters by arm and site
    by_arm = (await get(client, cohort, report, "statistician", arm="B")).json()
    assert {r["subject_code"] for r in by_arm["rows"]} == {p2} and by_arm["rows"][0]["arm_code"] == "B"
    by_site = (await get(client, cohort, report, "admin", site="S2")).json()
    assert {r["subject_code"] for r in by_site["rows"]} == {p3}
    unknown = await get(client, cohort, report, "statistician", arm="Z")
    assert unknown.status_code == 422 and unknown.json()["fields"][0]["path"] == "arm"
    # the participant's side gets nothing; another study's statistician gets a 404; nobody signed in a 401
    for who in ("participant", "guardian"):
        assert (await get(client, cohort, report, who)).status_code == 403
    other = await f.create_study(session)
    outsider = await f.create_staff(session, other, Role.statistician, site_codes=None)
    assert (await client.get(path(cohort, report), headers=f.auth_headers(outsider))).status_code == 404
    assert (await client.get(path(cohort, report))).status_code == 401
    assert (await get(client, cohort, report, "statistician", format="xml")).status_code == 422


PARSERS = {
    "string": str,
    "integer": int,
    "number": float,
    "date": date.fromisoformat,
    "boolean": lambda v: v == "true",
}


@pytest.mark.parametrize("report", REPORTS)
async def test_csv_parses_back_with_the_dictionary_types(
    client: httpx.AsyncClient, session: AsyncSession, report: str
) -> None:
    cohort = await build_cohort(client, session)
    dictionary = await client.get(
        f"{API}/studies/{cohort.study.id}/reports/dictionary",
        headers=f.auth_headers(cohort.users["statistician"]),
    )
    assert dictionary.status_code == 200
    types = {
        i["column"]: i["type"]
        for i in dictionary.json()["items"]
        if i["report"] == report and i["table"] == "rows"
    }
    as_json = (await get(client, cohort, report, "statistician")).json()
    as_csv = await get(client, cohort, report, "statistician", format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(as_csv.text))
    assert reader.fieldnames == as_json["columns"] == list(types)
    parsed = [{k: (PARSERS[types[k]](v) if v != "" else None) for k, v in row.items()} for row in reader]
    expected = [
        {k: date.fromisoformat(v) if types[k] == "date" and v else v for k, v in row.items()}
        for row in as_json["rows"]
    ]
    assert parsed == expected
    # blinded readers' dictionary has no arm column
    blinded = await client.get(
        f"{API}/studies/{cohort.study.id}/reports/dictionary",
        headers=f.auth_headers(cohort.users["coordinator"]),
    )
    assert "arm_code" not in {i["column"] for i in blinded.json()["items"]}
