"""Clinic dashboard sessions without a browser: cookie attributes, fixation, expiry, sign-out, CSRF, throttling,
and who may sign in at all."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.config import get_settings
from core.models.people import Role
from tests.api.clinic.helpers import csrf_of, sign_in, signed_in
from tests.core.rules.diary_rows import create_alert
from tests.factories import DEFAULT_PASSWORD, create_participant, create_staff, create_study, participant_user
from tests.urls import API

COOKIE = "gd_clinic"


async def _clinician(session: AsyncSession):  # type: ignore[no-untyped-def]
    study = await create_study(session)
    participant = await create_participant(session, study, site_code="S1")
    return participant, await create_staff(session, study, Role.clinician)


async def test_sign_in_sets_a_strict_http_only_secure_cookie(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    answer = await sign_in(browser, clinician)
    assert answer.status_code == 303 and answer.headers["location"] == "/clinic/inbox"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/clinic"} <= attributes


def _use_cookie(client: httpx.AsyncClient, value: str) -> None:
    client.cookies.delete(COOKIE)
    client.cookies.set(COOKIE, value, domain="testserver.local", path="/clinic")


async def test_the_session_id_changes_at_sign_in_and_the_old_one_dies(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    await sign_in(browser, clinician)
    first = browser.cookies[COOKIE]
    # the browser signs in again while it still holds the first id: a new id, and the first one is revoked
    browser.cookies.delete(COOKIE)
    form = await browser.get("/clinic/sign-in")
    _use_cookie(browser, first)
    again = await browser.post(
        "/clinic/sign-in",
        data={"email": clinician.email, "password": DEFAULT_PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert again.status_code == 303
    second = browser.cookies[COOKIE]
    assert second != first
    assert (await browser.get("/clinic/inbox")).status_code == 200
    _use_cookie(browser, first)
    stale = await browser.get("/clinic/inbox")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/clinic/sign-in")


async def test_a_planted_session_id_is_never_adopted(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    planted = "attacker-chosen-session-id-0123456789"
    _use_cookie(browser, planted)
    form = await browser.get("/clinic/sign-in")
    assert form.status_code == 200  # an unknown id is no session
    answer = await browser.post(
        "/clinic/sign-in",
        data={"email": clinician.email, "password": DEFAULT_PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 303 and browser.cookies[COOKIE] != planted
    _use_cookie(browser, planted)
    refused = await browser.get("/clinic/inbox")
    assert refused.status_code == 303 and "/clinic/sign-in" in refused.headers["location"]


async def test_an_idle_or_old_session_goes_back_to_sign_in(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    security = get_settings().security
    start = clock.now()
    clock.set_now(start)
    await signed_in(browser, clinician)
    clock.set_now(start + timedelta(minutes=security.clinic_idle_minutes - 1))
    assert (await browser.get("/clinic/inbox")).status_code == 200  # used in time: still signed in
    clock.set_now(start + timedelta(minutes=2 * security.clinic_idle_minutes))
    idle = await browser.get("/clinic/inbox")
    assert idle.status_code == 303
    assert idle.headers["location"] == "/clinic/sign-in?next=/clinic/inbox&expired=1"
    form = await browser.get(idle.headers["location"])
    assert "Your session ended" in form.text

    # kept busy, a session still ends at the absolute limit
    clock.set_now(start)
    await signed_in(browser, clinician)
    at = start
    while at < start + timedelta(hours=security.clinic_absolute_hours):
        at += timedelta(minutes=security.clinic_idle_minutes - 1)
        clock.set_now(at)
        answer = await browser.get("/clinic/participants")
    assert answer.status_code == 303 and "expired=1" in answer.headers["location"]


async def test_sign_out_revokes_the_session_at_once(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    token = await signed_in(browser, clinician)
    cookie = browser.cookies[COOKIE]
    out = await browser.post("/clinic/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/clinic/sign-in?signed_out=1"
    _use_cookie(browser, cookie)  # a copy of the cookie kept from before signing out
    replayed = await browser.get("/clinic/inbox")
    assert replayed.status_code == 303 and "/clinic/sign-in" in replayed.headers["location"]


async def test_changes_without_the_csrf_token_are_refused(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, clinician = await _clinician(session)
    alert = await create_alert(session, participant, kind="hypoglycemia_level_2", severity="urgent")
    alert_id = alert.id
    token = await signed_in(browser, clinician)
    path = f"/clinic/alerts/{alert_id}/acknowledge"
    for refused in (
        await browser.post(path),
        await browser.post(path, data={"csrf_token": "not-the-token"}),
        await browser.post(path, headers={"X-CSRF-Token": token[:-2] + "xx", "HX-Request": "true"}),
    ):
        assert refused.status_code == 403, refused.text
        assert "CSRF token" in refused.text
    await session.refresh(alert)
    assert alert.status == "open"
    accepted = await browser.post(path, headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert accepted.status_code == 200 and "acknowledged" in accepted.text
    # and the sign-out form too
    assert (await browser.post("/clinic/sign-out")).status_code == 403


async def test_the_sign_in_form_needs_its_own_token(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    await browser.get("/clinic/sign-in")
    forged = await browser.post(
        "/clinic/sign-in", data={"email": clinician.email, "password": "x", "csrf_token": "forged"}
    )
    assert forged.status_code == 403 and COOKIE not in browser.cookies


async def test_participants_and_guardians_are_told_to_use_the_app(
    browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    participant, _clinician_user = await _clinician(session)
    answer = await sign_in(browser, await participant_user(session, participant))
    assert answer.status_code == 403
    assert "app on their phone" in answer.text and COOKIE not in browser.cookies


async def test_wrong_passwords_are_throttled_with_the_api(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _p, clinician = await _clinician(session)
    wrong = await sign_in(browser, clinician, password="not-the-password")
    assert wrong.status_code == 401 and "e-mail or password is wrong" in wrong.text
    # the API's failures count for the dashboard too: one throttle per account
    for _ in range(get_settings().security.login_free_failures):
        await client.post(API + "/auth/token", data={"username": clinician.email, "password": "nope"})
    throttled = await sign_in(browser, clinician)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert COOKIE not in browser.cookies
