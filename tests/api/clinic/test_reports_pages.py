"""The reports page and the participants list's current-frame figures, against hand-worked diaries; the CSV
download is the JSON API's `format=csv`, byte for byte; blinded readers meet no arm; and links with parameters
a page does not take still open the page, saying what was ignored."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role
from tests import factories as f
from tests.api.clinic.helpers import signed_in
from tests.urls import API


def _row_cells(html: str, subject: str) -> list[str]:
    row = re.search(rf'<th scope="row"><a [^>]+>{subject}</a></th>(.*?)</tr>', html, re.S)
    assert row, f"{subject} is not listed"
    return [re.sub(r"<[^>]+>|▼|▲", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row[1], re.S)]


async def _post(
    client: httpx.AsyncClient, participant: object, headers: dict[str, str], entries: list
) -> None:
    stored = await client.post(
        f"{f.entries_path(participant)}/batch", json={"entries": entries}, headers=headers
    )
    assert stored.status_code == 200, stored.text
    assert {r["status"] for r in stored.json()["results"]} == {"created"}


async def test_participants_list_shows_the_current_frames_episodes_and_completeness(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # Day 0 Monday 2026-01-12; today 2026-04-20 in Ljubljana. Frame 1 is 01-12..04-11, frame 2 (current) from
    # 04-12. Weeks run Monday to Sunday from day 0: week 13 (04-06..04-12) began in frame 1 and keeps 04-12;
    # week 14 (04-13..19) has 7 days on study, week 15 (04-20..) 1 day so far: 8 days expected in frame 2.
    # Fasting readings on 04-12 (week 13: not counted), 04-13, 04-15 twice, 04-20: 3 days of 8 = 37.5 %.
    # Lows (mg/dL, level 1 below 70): 04-10 (frame 1), 04-14 and 04-18 (frame 2): 2 episodes this frame.
    clock.set_now(datetime(2026, 4, 20, 10, 0, tzinfo=UTC))
    study = await f.create_study(session)
    busy = await f.create_participant(session, study, subject_code="MS-201", treatment_date=date(2026, 1, 12))
    await f.create_participant(session, study, subject_code="MS-202", treatment_date=date(2026, 5, 4))
    clinician = await f.create_staff(session, study, Role.clinician)
    fasting = [("04-12", 95), ("04-13", 100), ("04-15", 90), ("04-15", 104), ("04-20", 99)]
    lows = [("04-10", 60), ("04-14", 52), ("04-18", 64)]
    entries = [
        f.entry_body(occurred_at=f"2026-{d}T07:{n:02d}:00+02:00", value=v, context="fasting")
        for n, (d, v) in enumerate(fasting)
    ] + [f.entry_body(occurred_at=f"2026-{d}T15:00:00+02:00", value=v, context="random") for d, v in lows]
    await _post(client, busy, f.auth_headers(clinician), entries)
    await signed_in(browser, clinician)

    listed = (await browser.get("/clinic/participants")).text
    assert _row_cells(listed, "MS-201")[-2:] == ["2 (frame 2)", "37.5 %"]
    assert _row_cells(listed, "MS-202")[-2:] == ["—", "—"]  # day 0 is still ahead
    by_episodes = (
        await browser.get("/clinic/participants", params={"sort": "frame_episodes", "order": "desc"})
    ).text
    assert re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a>', by_episodes) == ["MS-201", "MS-202"]
    by_completeness = (
        await browser.get("/clinic/participants", params={"sort": "completeness", "order": "asc"})
    ).text
    assert re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a>', by_completeness) == ["MS-202", "MS-201"]

    # a new low today moves the count at once (the episode cache is refreshed, never read stale)
    await _post(
        client,
        busy,
        f.auth_headers(clinician),
        [f.entry_body(occurred_at="2026-04-20T11:00:00+02:00", value=55, context="random")],
    )
    assert _row_cells((await browser.get("/clinic/participants")).text, "MS-201")[-2] == "3 (frame 2)"


async def _world(session: AsyncSession, client: httpx.AsyncClient) -> dict:
    """Two sites, two arms; day 0 2026-01-12, today 2026-04-20: frames 1 and 2 have rows."""
    clock.set_now(datetime(2026, 4, 20, 10, 0, tzinfo=UTC))
    study = await f.create_study(session)
    s1 = await f.create_participant(
        session, study, subject_code="MS-301", site_code="S1", arm_code="A", treatment_date=date(2026, 1, 12)
    )
    s2 = await f.create_participant(
        session, study, subject_code="MS-302", site_code="S2", arm_code="B", treatment_date=date(2026, 1, 12)
    )
    staff = f.auth_headers(await f.create_staff(session, study, Role.clinician, site_codes=None))
    # MS-301: a low in frame 1 (02-02) and one in frame 2 (04-14); MS-302: none
    for participant, lows in ((s1, ["02-02", "04-14"]), (s2, [])):
        entries = [
            f.entry_body(occurred_at=f"2026-{d}T15:00:00+01:00", value=58, context="random") for d in lows
        ]
        entries.append(f.entry_body(occurred_at="2026-04-15T07:00:00+02:00", value=99, context="fasting"))
        await _post(client, participant, staff, entries)
    return {
        "study": study,
        "statistician": await f.create_staff(session, study, Role.statistician, site_codes=None),
        "coordinator": await f.create_staff(session, study, Role.coordinator, site_codes=None),
        "clinician": await f.create_staff(session, study, Role.clinician, site_codes=("S2",)),
    }


async def test_a_statistician_reads_the_report_per_frame_and_downloads_the_apis_csv(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await _world(session, client)
    study = world["study"]
    await signed_in(browser, world["statistician"])
    page = await browser.get("/clinic/reports/hypoglycemia", params={"study": str(study.id)})
    assert page.status_code == 200
    html = page.text
    assert "Frame 1: months 0-3 from day 0" in html and "Frame 2: months 3-6 from day 0" in html
    assert ">arm code<" in html and 'name="arm"' in html  # unblinded: the arm column and filter
    frame2 = html.split("Frame 2: months 3-6", 1)[1]
    rows = re.findall(r"<tr><td>(MS-30\d)</td><td>(S\d)</td><td>([AB])</td><td>2</td>.*?</tr>", frame2)
    assert rows == [("MS-301", "S1", "A"), ("MS-302", "S2", "B")]
    only2 = (
        await browser.get("/clinic/reports/hypoglycemia", params={"study": str(study.id), "frame": 2})
    ).text
    assert "Frame 2: months" in only2 and "Frame 1: months" not in only2

    href = re.search(r'<a class="download" href="([^"]+)"', html)[1].replace("&amp;", "&")
    download = await browser.get(href)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="hypoglycemia-2026-04-21.csv"'
    api = await client.get(
        f"{API}/studies/{study.id}/reports/hypoglycemia",
        params={"format": "csv"},
        headers=f.auth_headers(world["statistician"]),
    )
    assert download.content == api.content  # the same service and the same writer
    table = list(csv.DictReader(io.StringIO(download.text)))
    # episodes per participant and frame: MS-301 one in each frame, MS-302 none
    assert [(r["subject_code"], r["arm_code"], r["frame"], r["episodes"]) for r in table] == [
        ("MS-301", "A", "1", "1"),
        ("MS-301", "A", "2", "1"),
        ("MS-302", "B", "1", "0"),
        ("MS-302", "B", "2", "0"),
    ]
    for name in ("glycemic-control", "insulin", "visits", "completeness", "exercise"):
        shown = await browser.get(f"/clinic/reports/{name}", params={"study": str(study.id)})
        assert shown.status_code == 200, f"{name}: {shown.status_code}"
    assert (await browser.get("/clinic/reports/nonsense")).status_code == 404


async def test_blinded_readers_meet_no_arm_and_clinicians_only_their_sites(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await _world(session, client)
    await signed_in(browser, world["coordinator"])
    for name in ("hypoglycemia", "glycemic-control", "insulin", "visits", "completeness", "exercise"):
        html = (await browser.get(f"/clinic/reports/{name}")).text
        assert not re.search(r"\barms?\b|arm_code", html, re.I), (
            f"{name} shows an arm to a blinded coordinator"
        )
        href = re.search(r'<a class="download" href="([^"]+)"', html)[1].replace("&amp;", "&")
        header = (await browser.get(href)).text.splitlines()[0]
        assert "arm" not in header, f"{name}.csv: {header}"
    refused = await browser.get("/clinic/reports/hypoglycemia", params={"arm": "A"})
    assert refused.status_code == 403 and "blinded" in refused.text

    browser.cookies.clear()
    await signed_in(browser, world["clinician"])  # site S2 only
    html = (await browser.get("/clinic/reports/hypoglycemia")).text
    assert "MS-302" in html and "MS-301" not in html
    other_site = await browser.get("/clinic/reports/hypoglycemia", params={"site": "S1"})
    assert other_site.status_code == 422 and "S1" in other_site.text and "allowed: S2" in other_site.text


async def test_a_link_with_parameters_a_page_does_not_take_still_opens_it_and_says_so(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await _world(session, client)
    await signed_in(browser, world["statistician"])
    old = await browser.get("/clinic/participants", params={"sort": "site", "filter": "mine", "page": "3"})
    assert old.status_code == 200
    assert "ignored: <code>filter</code>, <code>page</code>" in old.text
    clean = await browser.get("/clinic/participants", params={"sort": "site"})
    assert "ignored" not in clean.text
    # a value the page does not know is refused with the field named, as before; nothing answers 500
    garbage = ("", "x", "-1", "99999999999999999999", "2026-02-30", "%00", "<b>", "9" * 300)
    for path in ("/clinic/participants", "/clinic/reports/hypoglycemia", "/clinic/reports/completeness/csv"):
        for name in ("sort", "order", "study", "site", "frame", "from", "to", "days", "cursor", "unknown"):
            for value in garbage:
                answer = await browser.get(path, params={name: value})
                assert answer.status_code < 500, f"{path}?{name}={value!r}: {answer.status_code}"
