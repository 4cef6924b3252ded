"""Data cuts: frozen at a cut, tied to the protocol version and change position, downloadable byte for byte."""

from __future__ import annotations

import hashlib

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from tests import factories as f
from tests.api.reports_cohort import build_cohort
from tests.factories import entries_path, entry_body
from tests.urls import API


async def test_a_snapshot_never_changes_and_downloads_byte_for_byte(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await build_cohort(client, session)
    statistician = f.auth_headers(cohort.users["statistician"])
    base = f"{API}/studies/{cohort.study.id}/snapshots"
    created = await client.post(base, json={"cut": "2026-04-01"}, headers=statistician)
    assert created.status_code == 201, created.text
    snapshot = created.json()
    # P1 wrote 12 entries and P2 4: change positions 12 + 4
    assert (snapshot["cut"], snapshot["protocol_version"], snapshot["diary_change_position"]) == (
        "2026-04-01",
        1,
        16,
    )
    first = await client.get(f"{base}/{snapshot['id']}/content", headers=statistician)
    assert first.status_code == 200
    assert (
        hashlib.sha256(first.content).hexdigest()
        == snapshot["content_sha256"]
        == first.headers["etag"].strip('"')
    )
    assert len(first.content) == snapshot["size_bytes"]
    document = orjson.loads(first.content)
    hypo = document["reports"]["hypoglycemia"]
    # cut 2026-04-01: P1 frame 1 = 01-12..04-01 = 79 days = 0.2163 patient-years, the two March episodes
    p1_row = next(r for r in hypo["rows"] if r["subject_code"] == cohort.p1.subject_code)
    assert (p1_row["exposure_years"], p1_row["episodes"]) == (0.2163, 2)
    assert set(document["reports"]) == {
        "hypoglycemia",
        "glycemic-control",
        "insulin",
        "visits",
        "completeness",
        "exercise",
    }

    # the diary changes afterwards: a new low reading in March; the snapshot stays as it was
    late = entry_body(occurred_at="2026-03-20T07:00:00+01:00", value=50, unit="mg/dL", context="random")
    coordinator = f.auth_headers(cohort.users["coordinator"])
    assert (await client.post(entries_path(cohort.p1), json=late, headers=coordinator)).status_code == 201
    again = await client.get(f"{base}/{snapshot['id']}/content", headers=statistician)
    assert again.content == first.content
    listed = await client.get(base, headers=statistician)
    assert [s["id"] for s in listed.json()["items"]] == [snapshot["id"]]
    live = await client.get(
        f"{API}/studies/{cohort.study.id}/reports/hypoglycemia",
        params={"to": "2026-04-01"},
        headers=statistician,
    )
    assert (
        next(r for r in live.json()["rows"] if r["subject_code"] == cohort.p1.subject_code)["episodes"] == 3
    )


async def test_only_statisticians_and_admins_take_and_read_data_cuts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    cohort = await build_cohort(client, session)
    base = f"{API}/studies/{cohort.study.id}/snapshots"
    for who in ("coordinator", "clinician_s2", "participant", "guardian"):
        assert (
            await client.post(base, json={}, headers=f.auth_headers(cohort.users[who]))
        ).status_code == 403
    bad = await client.post(base, json={"cut": "soon"}, headers=f.auth_headers(cohort.users["statistician"]))
    assert bad.status_code == 422
    made = await client.post(base, json={}, headers=f.auth_headers(cohort.users["admin"]))
    assert made.status_code == 201 and made.json()["cut"] == "2026-08-02"
    missing = await client.get(
        f"{base}/00000000-0000-0000-0000-000000000000/content",
        headers=f.auth_headers(cohort.users["statistician"]),
    )
    assert missing.status_code == 404
