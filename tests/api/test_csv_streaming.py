"""CSV answers stream from the database in chunks: the report CSVs are exactly their JSON rows, however small the
chunks, and the study's readings export lists every reading not voided, in scope, with the reports' blinding."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.db import session_scope
from core.models.people import Role
from core.models.study import Participant
from core.reports import service
from tests import factories as f
from tests.api.reports_cohort import build_cohort
from tests.factories import entries_path, entry_body
from tests.urls import API

ALL_REPORTS = ("hypoglycemia", "glycemic-control", "insulin", "visits", "completeness", "exercise")


def as_csv(names: list[str], rows: list[dict[str, Any]]) -> str:
    """The JSON rows written out by hand as the CSV must have them: empty for null, true/false, ISO dates."""

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    lines = [",".join(names)] + [",".join(text(row[n]) for n in names) for row in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("chunk", [1000, 2])
async def test_every_report_csv_is_its_json_rows_whatever_the_chunk(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(service, "STREAM_CHUNK_ROWS", chunk)
    cohort = await build_cohort(client, session)
    headers = f.auth_headers(cohort.users["statistician"])
    for report in ALL_REPORTS:
        url = f"{API}/studies/{cohort.study.id}/reports/{report}"
        as_json = (await client.get(url, headers=headers)).json()
        streamed = await client.get(url, params={"format": "csv"}, headers=headers)
        assert streamed.status_code == 200, streamed.text
        assert streamed.headers["content-disposition"] == f'attachment; filename="{report}-2026-08-02.csv"'
        # the cohort has rows for every report but visits (no visit plan): that one is the header alone
        assert bool(as_json["rows"]) is (report != "visits"), report
        assert streamed.text == as_csv(as_json["columns"], as_json["rows"]), report


async def test_stream_results_hands_rows_over_in_chunks(session: AsyncSession) -> None:
    study = await f.create_study(session)
    for n in range(5):
        await f.create_participant(session, study, subject_code=f"C-{n}")
    query = (
        select(col(Participant.subject_code))
        .where(col(Participant.study_id) == study.id)
        .order_by(col(Participant.subject_code))
    )
    parts = [[row[0] for row in part] async for part in service.stream_results(session, query, chunk=2)]
    assert parts == [["C-0", "C-1"], ["C-2", "C-3"], ["C-4"]]


READINGS = API + "/studies/{}/export/readings"


async def _study_with_readings(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """S1/arm A: SUBJ-A (mg/dL) two readings, one voided one and an insulin dose; S2/arm B: SUBJ-B (mmol/L) one."""
    clock.set_now(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    study = await f.create_study(session)
    a = await f.create_participant(session, study, site_code="S1", arm_code="A", subject_code="SUBJ-A")
    b = await f.create_participant(session, study, site_code="S2", arm_code="B", subject_code="SUBJ-B")
    users = {
        "statistician": await f.create_staff(session, study, Role.statistician, site_codes=None),
        "coordinator": await f.create_staff(session, study, Role.coordinator, site_codes=("S1",)),
        "clinician_s2": await f.create_staff(session, study, Role.clinician, site_codes=("S2",)),
    }
    a_fasting = entry_body(occurred_at="2026-03-02T07:00:00+01:00", value=100, context="fasting")
    a_after = entry_body(
        occurred_at="2026-03-03T23:30:00-02:00", value=150, context="postprandial", minutes_after_meal=90
    )
    a_wrong = entry_body(occurred_at="2026-03-02T12:00:00+01:00", value=300, context="random")
    a_dose = entry_body("insulin", occurred_at="2026-03-02T07:05:00+01:00")
    b_fasting = entry_body(
        occurred_at="2026-03-01T08:00:00+01:00", value=5.5, unit="mmol/L", context="fasting"
    )
    staff = f.auth_headers(await f.create_staff(session, study, Role.coordinator, site_codes=None))
    for who, entries in ((a, [a_fasting, a_after, a_wrong, a_dose]), (b, [b_fasting])):
        sent = await client.post(f"{entries_path(who)}/batch", json={"entries": entries}, headers=staff)
        assert sent.status_code == 200, sent.text
    voided = await client.delete(
        entries_path(a, a_wrong["id"]), params={"reason": "meter error"}, headers=staff
    )
    assert voided.status_code == 200, voided.text
    return {
        "study": study,
        "participant": a,
        "users": users,
        "ids": {"a_fasting": a_fasting["id"], "a_after": a_after["id"], "b_fasting": b_fasting["id"]},
    }


async def _export(
    client: httpx.AsyncClient, world: dict[str, Any], who: str, **params: str
) -> httpx.Response:
    return await client.get(
        READINGS.format(world["study"].id), params=params, headers=f.auth_headers(world["users"][who])
    )


async def test_readings_export_lists_each_reading_in_scope(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "STREAM_CHUNK_ROWS", 1)  # one row per fetch: the same file
    world = await _study_with_readings(client, session)
    answer = await _export(client, world, "statistician")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="readings-2026-04-02.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    ids = world["ids"]
    # site S1 before S2; a subject's readings by time (UTC). The 23:30 at -02:00 is 01:30 UTC on 03-04 but the
    # participant's local day 03-03. 5.5 mmol/L x 18.016 = 99.088 mg/dL. The voided 300 and the dose are not
    # readings of the export.
    picked = [
        (
            r["subject_code"],
            r["site_code"],
            r["arm_code"],
            r["entry_id"],
            r["occurred_at"],
            r["local_date"],
            r["context"],
            r["value"],
            r["unit"],
            round(float(r["value_mg_dl"]), 3),
            r["minutes_after_meal"],
            r["source"],
        )
        for r in rows
    ]
    assert picked == [
        ("SUBJ-A", "S1", "A", ids["a_fasting"], "2026-03-02T06:00:00+00:00", "2026-03-02", "fasting", "100.0",
         "mg/dL", 100.0, "", "meter"),
        ("SUBJ-A", "S1", "A", ids["a_after"], "2026-03-04T01:30:00+00:00", "2026-03-03", "postprandial",
         "150.0", "mg/dL", 150.0, "90", "meter"),
        ("SUBJ-B", "S2", "B", ids["b_fasting"], "2026-03-01T07:00:00+00:00", "2026-03-01", "fasting", "5.5",
         "mmol/L", 99.088, "", "meter"),
    ]  # fmt: skip
    assert list(rows[0]) == [
        "subject_code",
        "site_code",
        "arm_code",
        "entry_id",
        "occurred_at",
        "local_date",
        "context",
        "value",
        "unit",
        "value_mg_dl",
        "minutes_after_meal",
        "source",
    ]
    # filters: a site, a period of local dates [from, to)
    s2 = list(csv.DictReader(io.StringIO((await _export(client, world, "statistician", site="S2")).text)))
    assert [r["entry_id"] for r in s2] == [ids["b_fasting"]]
    march_2 = await _export(client, world, "statistician", **{"from": "2026-03-02", "to": "2026-03-03"})
    assert [r["entry_id"] for r in csv.DictReader(io.StringIO(march_2.text))] == [ids["a_fasting"]]
    by_arm = await _export(client, world, "statistician", arm="B")
    assert [r["entry_id"] for r in csv.DictReader(io.StringIO(by_arm.text))] == [ids["b_fasting"]]


async def test_readings_export_scope_and_blinding(client: httpx.AsyncClient, session: AsyncSession) -> None:
    world = await _study_with_readings(client, session)
    ids = world["ids"]
    # the blinded coordinator at S1: S1's readings, no arm column; arm= is a 403
    coordinator = await _export(client, world, "coordinator")
    assert coordinator.status_code == 200
    rows = list(csv.DictReader(io.StringIO(coordinator.text)))
    assert "arm_code" not in coordinator.text
    assert [r["entry_id"] for r in rows] == [ids["a_fasting"], ids["a_after"]]
    refused = await _export(client, world, "coordinator", arm="A")
    assert refused.status_code == 403 and "blinded" in refused.json()["detail"]
    # the clinician at S2 may not ask for S1: 422 naming the field, the value and what is allowed
    other_site = await _export(client, world, "clinician_s2", site="S1")
    assert other_site.status_code == 422
    assert other_site.json()["fields"] == [{"path": "site", "message": "'S1' is not allowed; allowed: S2"}]
    empty = await _export(client, world, "statistician", **{"from": "2026-03-05", "to": "2026-03-05"})
    assert empty.status_code == 422 and empty.json()["fields"][0]["path"] == "to"
    # another study's statistician: 404; the participant's side: 403; nobody signed in: 401
    other = await f.create_study(session)
    outsider = await f.create_staff(session, other, Role.statistician, site_codes=None)
    path = READINGS.format(world["study"].id)
    assert (await client.get(path, headers=f.auth_headers(outsider))).status_code == 404
    participant = f.auth_headers(await f.participant_user(session, world["participant"]))
    assert (await client.get(path, headers=participant)).status_code == 403
    assert (await client.get(path)).status_code == 401
    # no reading in the period: the header only
    before = await _export(client, world, "statistician", to="2026-03-01")
    assert before.status_code == 200 and before.text.splitlines() == [before.text.splitlines()[0]]
    assert before.text.startswith("subject_code,site_code,arm_code,entry_id,")


async def test_exports_stream_on_the_services_own_sessions(committing_client: httpx.AsyncClient) -> None:
    # no test transaction around it: the export reads on its own session after the route returned (on
    # PostgreSQL a server-side cursor, which needs the transaction that session holds), 1 row per fetch here
    clock.set_now(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    async with session_scope() as session:
        study = await f.create_study(session)
        participant = await f.create_participant(session, study, subject_code="SUBJ-C")
        staff = f.auth_headers(await f.create_staff(session, study, Role.coordinator, site_codes=None))
        statistician = f.auth_headers(
            await f.create_staff(session, study, Role.statistician, site_codes=None)
        )
    days = [entry_body(occurred_at=f"2026-03-{day:02d}T07:00:00+01:00", value=90 + day) for day in (1, 2, 3)]
    sent = await committing_client.post(
        f"{entries_path(participant)}/batch", json={"entries": days}, headers=staff
    )
    assert sent.status_code == 200, sent.text
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "STREAM_CHUNK_ROWS", 1)
        export = await committing_client.get(READINGS.format(study.id), headers=statistician)
        report = await committing_client.get(
            f"{API}/studies/{study.id}/reports/glycemic-control",
            params={"format": "csv"},
            headers=statistician,
        )
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["subject_code"], r["local_date"], r["value"]) for r in rows] == [
        ("SUBJ-C", "2026-03-01", "91.0"),
        ("SUBJ-C", "2026-03-02", "92.0"),
        ("SUBJ-C", "2026-03-03", "93.0"),
    ]
    assert report.status_code == 200, report.text
    frames = list(csv.DictReader(io.StringIO(report.text)))
    # day 0 2026-01-12: frame 1 (01-12..04-11, cut 04-02) holds the three readings, mean (91 + 92 + 93) / 3
    assert [(r["frame"], r["readings"], r["mean_mg_dl"]) for r in frames] == [("1", "3", "92.0")]
