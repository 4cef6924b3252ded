"""The clinic dashboard in a real browser: a clinician triages the demo's severe hypoglycemia, a coordinator sees
no clinician action, a statistician downloads a report's CSV, blinded staff see no arm on any page (the reports
included), a participant is sent to the app, and axe finds no serious accessibility violation on any page. Each test keeps a screenshot in its tmp folder (path printed on failure)."""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from core.demo import people as demo
from tests.conftest import BACKEND, create_database, drop_database
from tests.e2e.clinic_server import AXE, CHROMIUM, NO_CHROMIUM, Server, demo_server, launch
from tests.urls import API

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)

BAND = (216, 239, 220)  # chart.js: the fasting band's fill
FASTING_POINT = (11, 92, 173)  # chart.js: a fasting reading's square
BLINDED_WORDS = re.compile(r"\barms?\b|\bMSC\b|\bCTL\b|Mesenchymal|Insulin alone", re.I)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo on the leg's backend: a SQLite file, or a throwaway PostgreSQL database."""
    # the helpers run their own event loop: a thread of their own keeps them clear of pytest-asyncio's
    with ThreadPoolExecutor(1) as worker:
        url = worker.submit(create_database, "clinic_e2e").result() if BACKEND == "postgres" else None
    try:
        with demo_server(tmp_path_factory.mktemp("clinic-demo"), url) as running:
            _report_severe_hypoglycemia(running.url)
            yield running
    finally:
        if url:
            with ThreadPoolExecutor(1) as worker:
                worker.submit(drop_database, url).result()


def _report_severe_hypoglycemia(url: str) -> None:
    """The child's mother logs last night's event in the app: glucagon given (ISPAD level 3 for a child)."""
    with httpx.Client(base_url=url, timeout=10) as api:
        tokens = api.post(
            API + "/auth/token", data={"username": demo.GUARDIAN.email, "password": demo.GUARDIAN.password}
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        child = api.get(API + "/me", headers=headers).json()["participants"][0]["id"]
        answer = api.post(
            f"{API}/participants/{child}/entries",
            headers=headers,
            json={
                "id": str(uuid.uuid4()),
                "kind": "hypo_event",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=6)).isoformat(),
                "symptoms": True,
                "needed_assistance": True,
                "treatment": ["glucagon"],
                "unconscious_or_seizure": False,
            },
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@contextmanager
def evidence(page: Any, tmp_path: Path, name: str) -> Iterator[None]:
    """A screenshot of where the test ended; its path printed when the test fails."""
    shot = tmp_path / f"{name}.png"
    try:
        yield
    except BaseException:
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}")
        raise
    page.screenshot(path=str(shot), full_page=True)


def new_page(chromium: Any, *, width: int = 1440, bypass_csp: bool = False) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": 900}, bypass_csp=bypass_csp)
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console",
        lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


def sign_in(page: Any, server: Server, login: demo.DemoLogin) -> None:
    page.goto(f"{server.url}/clinic/sign-in")
    page.get_by_label("E-mail").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    # the form's POST navigates whatever it answers (the inbox, or the sign-in page again with its refusal):
    # wait for that navigation, not for the load state of the page being left
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def canvas_pixels(page: Any, selector: str, colours: list[tuple[int, int, int]]) -> list[int]:
    """How many pixels of the chart's canvas have each colour (exactly)."""
    return page.evaluate(
        """([selector, colours]) => {
            const canvas = document.querySelector(selector + " canvas");
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            const counts = colours.map(() => 0);
            for (let i = 0; i < data.length; i += 4) {
                colours.forEach((c, k) => {
                    if (data[i] === c[0] && data[i + 1] === c[1] && data[i + 2] === c[2]) counts[k] += 1;
                });
            }
            return counts;
        }""",
        [selector, [list(c) for c in colours]],
    )


def new_count(page: Any) -> int:
    return int(page.locator("#inbox-count").inner_text().split()[0])


def test_a_clinician_triages_the_severe_hypoglycemia(chromium: Any, server: Server, tmp_path: Path) -> None:
    page = new_page(chromium)
    with evidence(page, tmp_path, "clinician"):
        sign_in(page, server, demo.CLINICIAN)
        assert page.url.endswith("/clinic/inbox")
        first = page.locator("article.alert").first
        assert "Severe hypoglycemia" in first.locator("h2").inner_text()
        assert "critical" in first.locator("h2").inner_text().lower()
        before = new_count(page)

        first.get_by_role("link", name="MS-001").click()
        page.wait_for_selector("#glucose-chart canvas")
        page.wait_for_selector("#glucose-chart[data-drawn]")  # (no wait_for_function: the CSP forbids eval)
        band, points = canvas_pixels(page, "#glucose-chart", [BAND, FASTING_POINT])
        assert band > 5000, f"the fasting band is not drawn ({band} pixels)"
        assert points > 50, f"no fasting readings drawn ({points} pixels)"
        assert "history" in page.locator("table.diary").inner_text()

        page.go_back()
        page.wait_for_selector("article.alert")
        page.evaluate("window.noReload = true")
        severe = page.locator("article.alert").first
        severe.get_by_role("button", name="Acknowledge").click()
        expect(page.locator("#inbox-count")).to_have_text(f"{before - 1} new")
        assert "acknowledged" in page.locator("article.alert").first.inner_text()
        assert page.evaluate("window.noReload === true"), "the page reloaded"
        assert page.csp_errors == []


def test_a_coordinator_sees_no_clinician_action(chromium: Any, server: Server, tmp_path: Path) -> None:
    page = new_page(chromium)
    with evidence(page, tmp_path, "coordinator"):
        sign_in(page, server, demo.COORDINATOR)
        # each count below reads a page only once it has loaded (wait_for_url waits for the load event): a
        # count taken straight after a click can read the page being left, as one did under load
        page.wait_for_url(re.compile(r"/clinic/inbox"))
        nav = page.get_by_role("navigation", name="Main").inner_text()
        assert "Visit calendar" in nav and "Reports" in nav
        assert page.locator("article.alert").count() > 0
        for name in ("Acknowledge", "Resolve", "Record decision"):
            assert page.get_by_role("button", name=name).count() == 0, f"a coordinator sees {name}"
        page.locator("article.alert a[href*='/participants/']").first.click()
        page.wait_for_url(re.compile(r"/clinic/participants/"))
        page.wait_for_selector("#glucose-chart")
        assert page.get_by_role("button", name="Record decision").count() == 0
        # the coordinator's own job: the visit calendar, where a due visit can be completed or marked missed
        page.get_by_role("link", name="Visit calendar").click()
        page.wait_for_url(re.compile(r"/clinic/visits"))
        assert page.locator("article.visit").count() > 0, "the demo's visits are not on the calendar"
        due = page.locator("article.visit-due, article.visit-overdue").first
        due.get_by_label("Why missed").fill("Family on holiday; rebooked for next week.")
        due.get_by_role("button", name="Mark missed").click()
        expect(page.locator("article.visit-missed").first).to_contain_text("Family on holiday")


@pytest.mark.parametrize("login", [demo.CLINICIAN, demo.COORDINATOR], ids=["clinician", "coordinator"])
def test_blinded_staff_find_no_arm_anywhere(
    chromium: Any, server: Server, tmp_path: Path, login: demo.DemoLogin
) -> None:
    page = new_page(chromium)
    with evidence(page, tmp_path, f"blinded-{login.role}"):
        sign_in(page, server, login)
        for path in _every_page(page, server):
            page.goto(path)
            text = page.locator("body").inner_text()
            found = BLINDED_WORDS.search(text)
            assert found is None, f"{path} shows {found.group(0)!r} to a blinded {login.role}"


def _every_page(page: Any, server: Server) -> list[str]:
    """The top bar's pages, every report, every participant's page, and one entry history."""
    nav = [
        server.url + h
        for h in page.locator("nav[aria-label=Main] a").evaluate_all(
            "l => l.map(a => a.getAttribute('href'))"
        )
    ]
    reports = []
    if any(p.endswith("/clinic/reports") for p in nav):
        page.goto(f"{server.url}/clinic/reports")
        reports = page.locator("nav[aria-label=Reports] a").evaluate_all("l => l.map(a => a.href)")
        assert len(reports) == 6, reports
    page.goto(f"{server.url}/clinic/participants")
    people = page.locator("table.participants tbody a").evaluate_all("l => l.map(a => a.href)")
    page.goto(people[0])
    history = page.locator("table.diary a").first.get_attribute("href")
    return [*nav, *reports, *people, *(p + "?days=90" for p in people), server.url + history]


def test_a_statistician_downloads_a_csv_that_parses(chromium: Any, server: Server, tmp_path: Path) -> None:
    page = new_page(chromium)
    with evidence(page, tmp_path, "statistician-csv"):
        sign_in(page, server, demo.STATISTICIAN)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
        page.get_by_role("navigation", name="Reports").get_by_role("link", name="Hypoglycemia").click()
        page.wait_for_selector("#report-chart[data-drawn]")
        assert page.locator("#report-chart canvas").count() == 1
        shown = page.locator("table.report caption", has_text="Each participant")
        on_page = sum(
            shown.nth(i).locator("xpath=..").locator("tbody tr").count() for i in range(shown.count())
        )
        with page.expect_download() as waiting:
            page.get_by_role("link", name="Download CSV").click()
        download = waiting.value
        assert re.fullmatch(r"hypoglycemia-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with saved.open(newline="", encoding="utf-8") as handle:
            table = list(csv.DictReader(handle))
        assert table, "the CSV has no rows"
        assert {"subject_code", "site_code", "arm_code", "frame", "episodes", "exposure_years"} <= table[
            0
        ].keys()
        assert len(table) == on_page, f"{len(table)} CSV rows, {on_page} rows on the page"
        assert {r["subject_code"] for r in table} == {"MS-001", "MS-002", "MS-003"}
        assert all(int(r["episodes"]) >= 0 and float(r["exposure_years"]) > 0 for r in table)
        assert page.csp_errors == []


def test_a_participant_is_sent_to_the_app(chromium: Any, server: Server, tmp_path: Path) -> None:
    page = new_page(chromium)
    with evidence(page, tmp_path, "participant"):
        sign_in(page, server, demo.TEEN)
        assert "/clinic/sign-in" in page.url
        assert "Glucodiary app" in page.locator(".message.error").inner_text()
        assert not [c for c in page.context.cookies() if c["name"] == "gd_clinic"]
        page.goto(f"{server.url}/clinic/participants")
        assert "/clinic/sign-in" in page.url


def test_tablet_width_and_keyboard(chromium: Any, server: Server, tmp_path: Path) -> None:
    page = new_page(chromium, width=768)
    with evidence(page, tmp_path, "tablet"):
        page.goto(f"{server.url}/clinic/sign-in")
        reached = []
        for _ in range(6):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
        assert {"email", "password"} <= set(reached) and "Sign in" in reached
        sign_in(page, server, demo.CLINICIAN)
        people = page.locator("article.alert a[href*='/participants/']").first.get_attribute("href")
        for path in ("/clinic/inbox", "/clinic/participants", people):
            page.goto(server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 768, f"{path} is {width} px wide at 768 px"


def test_axe_finds_no_serious_violation(chromium: Any, server: Server, tmp_path: Path) -> None:
    """Every kind of page once, as the role that sees the most of it."""
    # axe is injected by the test; the page's CSP (rightly) refuses injected scripts, so this context bypasses it
    page = new_page(chromium, bypass_csp=True)
    problems: list[str] = []

    def check(path: str) -> None:
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"][:3]]
                problems.append(f"{path}: {violation['id']} ({violation['impact']}) at {targets}")

    with evidence(page, tmp_path, "axe"):
        check(f"{server.url}/clinic/sign-in")
        sign_in(page, server, demo.CLINICIAN)  # the inbox with every action, a participant with decisions
        check(f"{server.url}/clinic/inbox")
        participant = _first_participant(page, server)
        history = _first_history(page, server)
        for path in (f"{server.url}/clinic/participants", participant, history):
            check(path)
        page.context.clear_cookies()
        sign_in(page, server, demo.COORDINATOR)
        for path in ("/clinic/visits", "/clinic/reports"):
            check(server.url + path)
        page.context.clear_cookies()
        sign_in(page, server, demo.STATISTICIAN)  # the participants list and the reports with the arm column
        for path in ("/clinic/participants", "/clinic/reports/hypoglycemia", "/clinic/reports/visits"):
            check(server.url + path)
        assert problems == []


def _first_participant(page: Any, server: Server) -> str:
    page.goto(f"{server.url}/clinic/participants")
    return str(page.locator("table.participants tbody a").first.evaluate("a => a.href"))


def _first_history(page: Any, server: Server) -> str:
    page.goto(_first_participant(page, server))
    return server.url + str(page.locator("table.diary a").first.get_attribute("href"))
