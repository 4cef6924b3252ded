"""What the dashboard's pages show, checked in their HTML: the inbox's order and filters, the participants list's
counts against hand-worked flags, the chart's ranges in the participant's unit, and refusals that name the field."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from tests.api.clinic.helpers import signed_in
from tests.core.rules.diary_rows import create_alert
from tests.factories import (
    auth_headers,
    create_participant,
    create_staff,
    create_study,
    entries_path,
    entry_body,
    participant_user,
)


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 id="alert-[^"]+-title">.*?</span> ([^<]+)</h2>', html, re.S)


async def test_inbox_puts_the_most_severe_first_and_filters(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await create_study(session)
    s1 = await create_participant(session, study, site_code="S1")
    s2 = await create_participant(session, study, site_code="S2")
    clinician = await create_staff(session, study, Role.clinician, site_codes=("S1", "S2"))
    now = clock.now()
    await create_alert(
        session, s1, kind="illness_reported", category="safety", severity="info", created_at=now
    )
    await create_alert(
        session,
        s1,
        kind="hypoglycemia_level_1",
        category="safety",
        severity="warning",
        created_at=now - timedelta(hours=2),
    )
    await create_alert(
        session,
        s2,
        kind="severe_hypoglycemia",
        category="safety",
        severity="critical",
        created_at=now - timedelta(days=1),
    )
    done = await create_alert(session, s1, kind="ketones_high", category="safety", severity="urgent")
    done.status = "resolved"
    await session.flush()
    await signed_in(browser, clinician)

    inbox = (await browser.get("/clinic/inbox")).text
    # critical (a day old) before warning before info (newest); the resolved one is not in the inbox
    assert _titles(inbox) == ["Severe hypoglycemia", "Hypoglycemia level 1", "Illness reported"]
    assert '<span id="inbox-count" class="count">3 new</span>' in inbox
    only_critical = (await browser.get("/clinic/inbox", params={"severity": "critical"})).text
    assert _titles(only_critical) == ["Severe hypoglycemia"]
    site_ids = dict(re.findall(r'<option value="([0-9a-f-]{36})"[^>]*>(S\d)</option>', inbox))
    by_site = {code: site_id for site_id, code in site_ids.items()}
    at_s1 = (await browser.get("/clinic/inbox", params={"site": by_site["S1"]})).text
    assert _titles(at_s1) == ["Hypoglycemia level 1", "Illness reported"]
    by_kind = (await browser.get("/clinic/inbox", params={"kind": "illness_reported"})).text
    assert _titles(by_kind) == ["Illness reported"]
    resolved = (await browser.get("/clinic/inbox", params={"status": "resolved"})).text
    assert _titles(resolved) == ["Ketones high"]
    wrong = await browser.get("/clinic/inbox", params={"severity": "dire"})
    assert wrong.status_code == 422 and "severity" in wrong.text and "dire" in wrong.text


async def test_resolving_needs_a_note_and_says_so(browser: httpx.AsyncClient, session: AsyncSession) -> None:
    study = await create_study(session)
    participant = await create_participant(session, study)
    clinician = await create_staff(session, study, Role.clinician)
    alert = await create_alert(session, participant, kind="hypoglycemia_level_2", category="safety")
    path = f"/clinic/alerts/{alert.id}/resolve"
    token = await signed_in(browser, clinician)
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    empty = await browser.post(path, data={"note": "  "}, headers=headers)
    assert empty.status_code == 422
    assert empty.headers["hx-retarget"] == "#flash"  # shown in the page's alert region, the card stays
    assert "<code>note</code>: must not be empty" in empty.text
    done = await browser.post(path, data={"note": "Juice, 5.8 at recheck."}, headers=headers)
    assert done.status_code == 200 and "Resolved" in done.text and "Juice, 5.8 at recheck." in done.text
    assert '<span id="inbox-count" class="count" hx-swap-oob="true">0 new</span>' in done.text
    again = await browser.post(path, data={"note": "twice"}, headers=headers)
    assert again.status_code == 409 and "resolved already" in again.text


async def test_participants_list_counts_the_last_week_in_and_out_of_range(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await create_study(session)
    busy = await create_participant(session, study, subject_code="MS-900")
    quiet = await create_participant(session, study, subject_code="MS-100")
    coordinator = await create_staff(session, study, Role.coordinator)
    phone = auth_headers(await participant_user(session, busy))
    now = clock.now()
    # mg/dL protocol defaults: fasting 70-110 in range; 150 fasting is above range; 60 is level 1 hypoglycemia;
    # a reading 8 days ago is outside the 7-day window
    for value, context, age in (
        (98, "fasting", 1),
        (150, "fasting", 2),
        (60, "random", 3),
        (300, "random", 8),
    ):
        at = (now - timedelta(days=age)).isoformat()
        body = entry_body("glucose", value=value, context=context, occurred_at=at)
        made = await client.post(entries_path(busy), json=body, headers=phone)
        assert made.status_code == 201, made.text
    await signed_in(browser, coordinator)
    listed = (
        await browser.get("/clinic/participants", params={"sort": "out_of_range", "order": "desc"})
    ).text
    rows = re.findall(r"<tr>\s*<th scope=\"row\"><a [^>]+>([^<]+)</a></th>(.*?)</tr>", listed, re.S)
    assert [code for code, _ in rows] == ["MS-900", "MS-100"]
    cells = re.findall(r"<td>(.*?)</td>", rows[0][1], re.S)
    in_range, out_of_range = cells[-4], re.sub(r"<[^>]+>|▲▼", "", cells[-3]).strip()
    assert (in_range, out_of_range) == ("1", "2")
    assert "none yet" in rows[1][1]
    assert ">Arm<" not in listed  # a blinded coordinator
    assert quiet.subject_code == "MS-100"


async def test_the_chart_uses_the_participants_unit_and_the_protocols_ranges(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    study = await create_study(session)
    participant = await create_participant(session, study)
    clinician = await create_staff(session, study, Role.clinician)
    phone = auth_headers(await participant_user(session, participant))
    now = clock.now()
    for value, unit, hours in ((5.4, "mmol/L", 5), (7.2, "mmol/L", 4), (126, "mg/dL", 3)):
        body = entry_body(
            "glucose",
            value=value,
            unit=unit,
            context="fasting",
            occurred_at=(now - timedelta(hours=hours)).isoformat(),
        )
        assert (await client.post(entries_path(participant), json=body, headers=phone)).status_code == 201
    await signed_in(browser, clinician)
    page = await browser.get(f"/clinic/participants/{participant.id}", params={"days": "14"})
    assert page.status_code == 200
    data = json.loads(
        re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page.text, re.S)[1]
    )
    assert data["unit"] == "mmol/L"  # two of three readings
    assert data["ranges"] == {
        "fasting_low": 3.9,
        "fasting_high": 6.1,
        "postprandial_limit": 7.8,
        "hypo_level1": 3.9,
        "hypo_level2": 3.0,
    }
    # 126 mg/dL / 18.016 = 6.99 -> 7.0 mmol/L; 7.2 and 7.0 are above the fasting range, 5.4 is in it
    assert [(r[1], r[3]) for r in data["readings"]] == [(5.4, False), (7.2, True), (7.0, True)]
    wrong = await browser.get(f"/clinic/participants/{participant.id}", params={"days": "7"})
    assert wrong.status_code == 422 and "<code>days</code>" in wrong.text and "(got 7)" in wrong.text
