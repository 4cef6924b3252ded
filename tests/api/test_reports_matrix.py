"""Every report, both formats, every role: the CSV parses back with the dictionary's types, and blinding holds.

The cohort is reports_cohort.py's (blinded study; P1 and P2 at S1, P3 at S2) with, for P1, an insulin dose in
the baseline fortnight and one in frame 1, an exercise session, and visit M1 completed with its labs, so each
report has figures of every type to parse.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from core.visits import service as visit_service
from tests import factories as f
from tests.api.reports_cohort import Cohort, build_cohort
from tests.factories import entries_path, entry_body
from tests.urls import API

REPORTS = ("hypoglycemia", "glycemic-control", "insulin", "visits", "completeness", "exercise")
# the columns of each report that the enriched cohort fills for at least one row (beyond the participant keys)
FILLED = {
    "hypoglycemia": {"exposure_years", "episodes", "severe", "documented_symptomatic", "pseudo_hypoglycemia"},
    "glycemic-control": {"fasting_mean_mg_dl", "sd_mg_dl", "cv_pct", "postprandial_in_range_pct"},
    "insulin": {"days_with_data", "tdd_iu", "iu_per_kg", "baseline_tdd_iu", "change_pct", "change_category"},
    "visits": {"completed_on", "outside_window", "hba1c_percent", "hba1c_mmol_mol", "cpgr", "bmi"},
    "completeness": {"week_start", "expected_fasting", "days_with_fasting", "completeness_pct"},
    "exercise": {
        "sessions",
        "minutes",
        "minutes_per_week",
        "regimen_minutes_pct",
        "mean_mg_dl_exercise_days",
    },
}


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{text!r} is not a boolean")
    return text == "true"


PARSERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "integer": int,  # "2.0" would fail: an integer column must hold integers
    "number": float,
    "date": date.fromisoformat,
    "boolean": _boolean,
}


async def enriched(client: httpx.AsyncClient, session: AsyncSession) -> Cohort:
    cohort = await build_cohort(client, session)
    cohort.p1.height_cm = 165.0
    session.add(cohort.p1)
    await session.flush()
    staff = f.auth_headers(cohort.users["coordinator"])
    entries = [
        # 8 January: the baseline fortnight before day 0 (12 January), after enrolment (5 January)
        entry_body("insulin", occurred_at="2026-01-08T08:00:00+01:00", units=20),
        entry_body("insulin", occurred_at="2026-02-05T08:00:00+01:00", units=14),
        entry_body("exercise", occurred_at="2026-02-02T18:00:00+01:00", duration_min=60),
    ]
    batch = await client.post(f"{entries_path(cohort.p1)}/batch", json={"entries": entries}, headers=staff)
    assert batch.status_code == 200 and {r["status"] for r in batch.json()["results"]} == {"created"}, (
        batch.text
    )
    # visits were planned at enrolment (P2 withdrew later)
    cohort.p2.status = "enrolled"
    for participant in (cohort.p1, cohort.p2, cohort.p3):
        await visit_service.plan_participant(session=session, participant=participant, actor=None, reason="t")
    cohort.p2.status = "withdrawn"
    session.add(cohort.p2)
    await session.flush()
    m1 = next(
        v for v in await visit_service.visits_of(session=session, participant_id=cohort.p1.id) if v.month == 1
    )
    done = await client.post(
        f"{API}/visits/{m1.id}/complete",
        json={
            "completed_on": "2026-02-13",
            "hba1c_percent": 7.2,
            "c_peptide_fasting_ng_ml": 0.9,
            "c_peptide_stimulated_ng_ml": 2.1,
            "glucose_fasting_mg_dl": 110,
            "weight_kg": 61,
        },
        headers=staff,
    )
    assert done.status_code == 200, done.text
    return cohort


async def get(
    client: httpx.AsyncClient, cohort: Cohort, report: str, who: str, **params: str
) -> httpx.Response:
    return await client.get(
        f"{API}/studies/{cohort.study.id}/reports/{report}",
        params=params,
        headers=f.auth_headers(cohort.users[who]),
    )


async def dictionary_types(client: httpx.AsyncClient, cohort: Cohort, who: str) -> dict[str, dict[str, str]]:
    answer = await client.get(
        f"{API}/studies/{cohort.study.id}/reports/dictionary", headers=f.auth_headers(cohort.users[who])
    )
    assert answer.status_code == 200, answer.text
    types: dict[str, dict[str, str]] = {}
    for item in answer.json()["items"]:
        if item["table"] == "rows":
            types.setdefault(item["report"], {})[item["column"]] = item["type"]
    return types


@pytest.mark.parametrize("who", ["statistician", "coordinator"])
async def test_every_report_csv_parses_back_with_the_dictionary_types(
    client: httpx.AsyncClient, session: AsyncSession, who: str
) -> None:
    cohort = await enriched(client, session)
    types = await dictionary_types(client, cohort, who)
    assert set(types) == set(REPORTS)
    for report in REPORTS:
        as_json = (await get(client, cohort, report, who)).json()
        as_csv = await get(client, cohort, report, who, format="csv")
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        reader = csv.DictReader(io.StringIO(as_csv.text))
        assert reader.fieldnames == as_json["columns"] == list(types[report]), report
        parsed = [
            {k: PARSERS[types[report][k]](v) if v != "" else None for k, v in row.items()} for row in reader
        ]
        expected = [
            {k: date.fromisoformat(v) if types[report][k] == "date" and v else v for k, v in row.items()}
            for row in as_json["rows"]
        ]
        assert parsed == expected, report
        assert parsed, f"{report}: no rows to parse"
        filled = {k for row in parsed for k, v in row.items() if v is not None}
        assert FILLED[report] <= filled, f"{report}: never filled: {FILLED[report] - filled}"
        # each value has the Python type of its dictionary type (bool is not taken for an integer)
        kinds = {"string": str, "integer": int, "number": float, "date": date, "boolean": bool}
        for row in parsed:
            for k, v in row.items():
                assert v is None or type(v) is kinds[types[report][k]], (report, k, v)


def arm_keys(document: Any) -> set[str]:
    if isinstance(document, dict):
        found = {k for k in document if "arm" in k.split("_")}
        return found.union(*(arm_keys(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(arm_keys(v) for v in document))
    return set()


def sort_key(report: str, row: dict[str, Any]) -> tuple[Any, ...]:
    period = {"completeness": "week", "visits": "month"}.get(report, "frame")
    return (row["site_code"], row["subject_code"], row[period])


@pytest.mark.parametrize("report", REPORTS)
async def test_blinding_and_scope_of_every_report_for_every_role(
    client: httpx.AsyncClient, session: AsyncSession, report: str
) -> None:
    cohort = await enriched(client, session)
    p1, p2, p3 = (p.subject_code for p in (cohort.p1, cohort.p2, cohort.p3))
    # unblinded: the statistician and the admin see the arm, filter by it, and (where a report has
    # aggregates) get per-arm rows
    for who in ("statistician", "admin"):
        body = (await get(client, cohort, report, who)).json()
        assert "arm_code" in body["columns"] and {r["subject_code"] for r in body["rows"]} == {p1, p2, p3}
        assert {r["arm_code"] for r in body["rows"]} == {"A", "B"}
        if body["aggregates"]:
            assert {a["arm_code"] for a in body["aggregates"]} == {None, "A", "B"}
        header = (await get(client, cohort, report, who, format="csv")).text.splitlines()[0]
        assert "arm_code" in header.split(",")
        by_arm = (await get(client, cohort, report, who, arm="B")).json()
        assert {r["subject_code"] for r in by_arm["rows"]} == {p2}
    # blinded: the coordinator (S1) and the clinician (S2) see their sites, no arm anywhere in either
    # format, arm= is a 403, rows in site and subject order (never by arm)
    for who, subjects in (("coordinator", {p1, p2}), ("clinician_s2", {p3})):
        answer = await get(client, cohort, report, who)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert arm_keys(body) == set(), (who, arm_keys(body))
        assert {r["subject_code"] for r in body["rows"]} == subjects
        assert body["rows"] == sorted(body["rows"], key=lambda r: sort_key(report, r))
        as_csv = await get(client, cohort, report, who, format="csv")
        assert as_csv.status_code == 200 and "arm" not in as_csv.text.splitlines()[0]
        for fmt in ("json", "csv"):
            refused = await get(client, cohort, report, who, arm="A", format=fmt)
            assert refused.status_code == 403 and "blinded" in refused.json()["detail"]
            assert "'A'" not in refused.text and "'B'" not in refused.text
    # the participant's side: nothing, in either format; another study's statistician: 404; nobody: 401
    for fmt in ("json", "csv"):
        for who in ("participant", "guardian"):
            assert (await get(client, cohort, report, who, format=fmt)).status_code == 403
        other = await f.create_study(session)
        outsider = await f.create_staff(session, other, Role.statistician, site_codes=None)
        path = f"{API}/studies/{cohort.study.id}/reports/{report}"
        assert (
            await client.get(path, params={"format": fmt}, headers=f.auth_headers(outsider))
        ).status_code == 404
        assert (await client.get(path, params={"format": fmt})).status_code == 401


async def test_dictionary_episodes_and_export_name_no_arm_for_blinded_roles(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await enriched(client, session)
    base = f"{API}/studies/{cohort.study.id}/reports/dictionary"
    for who, sees_arm in (
        ("statistician", True),
        ("admin", True),
        ("coordinator", False),
        ("clinician_s2", False),
    ):
        columns = {
            i["column"]
            for i in (await client.get(base, headers=f.auth_headers(cohort.users[who]))).json()["items"]
        }
        assert ("arm_code" in columns) is sees_arm, who
    for who in ("participant", "guardian"):
        assert (await client.get(base, headers=f.auth_headers(cohort.users[who]))).status_code == 403
    # the episode list and the FHIR export carry no allocation for anyone
    for who, participant in (
        ("coordinator", cohort.p1),
        ("statistician", cohort.p1),
        ("clinician_s2", cohort.p3),
    ):
        headers = f.auth_headers(cohort.users[who])
        episodes = await client.get(f"{API}/participants/{participant.id}/episodes", headers=headers)
        exported = await client.get(f"{API}/participants/{participant.id}/export/fhir", headers=headers)
        assert episodes.status_code == exported.status_code == 200
        assert arm_keys(episodes.json()) == set() and arm_keys(exported.json()) == set()
        assert "Arm A" not in exported.text


async def test_in_an_open_label_study_site_staff_see_the_arm_in_every_report(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await enriched(client, session)
    cohort.study.blinded = False
    session.add(cohort.study)
    await session.flush()
    for report in REPORTS:
        for fmt in ("json", "csv"):
            answer = await get(client, cohort, report, "coordinator", format=fmt)
            assert answer.status_code == 200 and "arm_code" in answer.text, (report, fmt)
        by_arm = (await get(client, cohort, report, "coordinator", arm="B")).json()
        assert {r["subject_code"] for r in by_arm["rows"]} == {cohort.p2.subject_code}, report
    # the participant's side is not staff: still nothing
    assert (await get(client, cohort, "hypoglycemia", "participant")).status_code == 403
