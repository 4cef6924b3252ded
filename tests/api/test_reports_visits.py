"""The visits report: results and derived values by visit, per-visit means, blinding as every report."""

from __future__ import annotations

import io
from csv import DictReader
from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from core.visits import service as visit_service
from tests import factories as f
from tests.urls import API


async def test_visit_results_by_visit_and_their_means(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # day 0 2026-01-12; clock 2026-04-20, so M1 (02-12), M2 (03-12) and M3 (04-12) are due before the cut
    clock.set_now(datetime(2026, 4, 20, 10, 0, tzinfo=UTC))
    study = await f.create_study(session)
    participants = [
        await f.create_participant(session, study, treatment_date=date(2026, 1, 12), height_cm=150.0)
        for _ in range(2)
    ]
    coordinator = f.auth_headers(await f.create_staff(session, study, Role.coordinator))
    for participant in participants:
        await visit_service.plan_participant(
            session=session, participant=participant, actor=None, reason="test"
        )
    # P1 and P2 complete M3 with HbA1c 7.0 and 8.0 %, C-peptide 1.2 ng/mL at glucose 100 (P1 only); M1 and M2
    # stay planned
    for participant, hba1c in zip(participants, (7.0, 8.0), strict=True):
        m3 = next(
            v
            for v in await visit_service.visits_of(session=session, participant_id=participant.id)
            if v.month == 3
        )
        body = {"completed_on": "2026-04-13", "hba1c_percent": hba1c}
        if hba1c == 7.0:
            body |= {"c_peptide_fasting_ng_ml": 1.2, "glucose_fasting_mg_dl": 100}
        done = await client.post(f"{API}/visits/{m3.id}/complete", json=body, headers=coordinator)
        assert done.status_code == 200, done.text
    statistician = f.auth_headers(await f.create_staff(session, study, Role.statistician, site_codes=None))
    body = (await client.get(f"{API}/studies/{study.id}/reports/visits", headers=statistician)).json()
    first = [r for r in body["rows"] if r["subject_code"] == participants[0].subject_code]
    assert [(r["visit"], r["month"], r["status"]) for r in first] == [
        ("M1", 1, "planned"),
        ("M2", 2, "planned"),
        ("M3", 3, "completed"),
    ]
    # 10.93 x 7.0 - 23.5 = 53.0 mmol/mol; CPGR 1.2 x 100 / 100 = 1.2
    m3 = first[2]
    assert (m3["completed_on"], m3["hba1c_percent"], m3["hba1c_mmol_mol"], m3["cpgr"]) == (
        "2026-04-13",
        7.0,
        53.0,
        1.2,
    )
    all_sites = [
        a
        for a in body["aggregates"]
        if a["visit"] == "M3" and a["site_code"] is None and a["arm_code"] is None
    ]
    # M3: 2 due, 2 completed; mean HbA1c (7.0 + 8.0) / 2 = 7.5 %; (53.0 + 63.9) / 2 = 58.5 mmol/mol (8.0 % is
    # 10.93 x 8 - 23.5 = 63.94 -> 63.9); CPGR only P1's
    assert [
        (a["visits_due"], a["completed"], a["hba1c_percent_mean"], a["hba1c_mmol_mol_mean"], a["cpgr_mean"])
        for a in all_sites
    ] == [(2, 2, 7.5, 58.5, 1.2)]
    csv = await client.get(
        f"{API}/studies/{study.id}/reports/visits", params={"format": "csv"}, headers=coordinator
    )
    assert csv.status_code == 200 and "arm_code" not in csv.text
    rows = list(DictReader(io.StringIO(csv.text)))
    assert (rows[2]["visit"], rows[2]["outside_window"], rows[0]["outside_window"]) == ("M3", "false", "")
