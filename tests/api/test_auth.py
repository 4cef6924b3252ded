"""Signing in and out as a phone or a dashboard does: tokens, rotation, reuse detection, logout, password change."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.models.auth import AuditEvent, RefreshToken
from core.models.people import Role
from core.models.study import GuardianLink
from tests import factories
from tests.factories import DEFAULT_PASSWORD
from tests.urls import API

TOKEN = f"{API}/auth/token"
REFRESH = f"{API}/auth/refresh"
NEW_PASSWORD = "Copper-Walrus-Tangerine-58"


async def login(client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def actions(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(AuditEvent.action).order_by(col(AuditEvent.occurred_at)))
    return list(rows.scalars())


async def test_login_gives_a_token_pair_that_opens_me(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    user = await factories.create_user(session, email="nurse@example.org", role=Role.clinician)
    answer = await login(client, " Nurse@EXAMPLE.org")  # e-mail matched ignoring case
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    assert body["refresh_token"] and body["access_token"] != body["refresh_token"]
    me = await client.get(f"{API}/me", headers=bearer(body["access_token"]))
    assert me.json() == {
        "id": str(user.id),
        "email": "nurse@example.org",
        "role": "clinician",
        "participants": [],
        "studies": [],
    }
    event = (await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.login"))).scalar_one()
    assert (event.actor_id, event.client_address) == (user.id, "127.0.0.1")
    assert event.request_id == answer.headers["X-Request-ID"]


async def test_unknown_email_and_wrong_password_answer_alike(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="known@example.org")
    wrong = await login(client, "known@example.org", "Not-The-Password-123")
    unknown = await login(client, "nobody@example.org", "Not-The-Password-123")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "not_authenticated",
            "detail": "The e-mail or password is wrong.",
        }
    )
    events = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
    ).scalars()
    assert sorted(e.subject_id or "" for e in events)[-1] == "nobody@example.org"


async def test_login_sent_as_json_is_told_to_send_a_form(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # before: 422 "username: field required" although the body had a username, with no word about forms
    await factories.create_user(session, email="json@example.org")
    answer = await client.post(TOKEN, json={"username": "json@example.org", "password": DEFAULT_PASSWORD})
    assert answer.status_code == 422
    body = answer.json()
    assert "application/x-www-form-urlencoded" in body["detail"] and "application/json" in body["detail"]
    assert body["fields"][0]["path"] == "body"
    assert (await login(client, "json@example.org")).status_code == 200  # the form still works


async def test_inactive_account_cannot_sign_in(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await factories.create_user(session, email="gone@example.org", active=False)
    assert (await login(client, "gone@example.org")).status_code == 401


async def test_refresh_rotates_and_a_reused_token_kills_the_family(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="phone@example.org")
    first = (await login(client, "phone@example.org")).json()
    second = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]

    # the spent token comes back a minute later: someone copied it; the whole family dies, including the
    # fresh successor (inside the 30 s race window it would be the same phone racing itself, see below)
    clock.set_now(clock.now() + timedelta(seconds=31))
    reused = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    successor = await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert successor.status_code == 401
    assert "auth.refresh_token_reused" in await actions(session)
    rows = (await session.execute(select(RefreshToken))).scalars().all()
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)


async def test_expired_refresh_token_is_refused(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await factories.create_user(session, email="late@example.org")
    pair = (await login(client, "late@example.org")).json()
    clock.set_now(clock.now() + timedelta(days=31))
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401


async def test_logout_ends_access_and_refresh_tokens(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="bye@example.org")
    pair = (await login(client, "bye@example.org")).json()
    other_device = (await login(client, "bye@example.org")).json()
    assert (await client.post(f"{API}/auth/logout", headers=bearer(pair["access_token"]))).status_code == 204
    assert (await client.get(f"{API}/me", headers=bearer(pair["access_token"]))).status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(other_device["access_token"]))).status_code == 401
    for refresh in (pair["refresh_token"], other_device["refresh_token"]):
        assert (await client.post(REFRESH, json={"refresh_token": refresh})).status_code == 401
    assert (await login(client, "bye@example.org")).status_code == 200  # signing in again works


async def test_password_change_revokes_everything_and_the_new_password_works(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="change@example.org")
    pair = (await login(client, "change@example.org")).json()
    weak = await client.post(
        f"{API}/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "password1234"},
        headers=bearer(pair["access_token"]),
    )
    assert weak.status_code == 422 and weak.json()["fields"][0]["path"] == "new_password"
    wrong = await client.post(
        f"{API}/me/password",
        json={"current_password": "Wrong-Password-0000", "new_password": NEW_PASSWORD},
        headers=bearer(pair["access_token"]),
    )
    assert wrong.status_code == 403
    changed = await client.post(
        f"{API}/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(pair["access_token"]),
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get(f"{API}/me", headers=bearer(pair["access_token"]))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert (await login(client, "change@example.org")).status_code == 401
    assert (await login(client, "change@example.org", NEW_PASSWORD)).status_code == 200
    assert "auth.password_changed" in await actions(session)


async def test_me_lists_the_participants_a_login_may_log_for(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    first = await factories.create_participant(session, study, subject_code="K-01", with_login=False)
    second = await factories.create_participant(session, study, subject_code="K-02", with_login=False)
    parent = await factories.create_guardian(session, first, relationship="father")
    session.add(GuardianLink(guardian_user_id=parent.id, participant_id=second.id, relationship="father"))
    teen = await factories.create_participant(session, study, subject_code="T-01")
    await session.flush()

    mine = (await client.get(f"{API}/me", headers=factories.auth_headers(parent))).json()
    assert [(p["subject_code"], p["relationship"]) for p in mine["participants"]] == [
        ("K-01", "father"),
        ("K-02", "father"),
    ]
    own = await client.get(
        f"{API}/me", headers=factories.auth_headers(await factories.participant_user(session, teen))
    )
    assert own.json()["participants"] == [
        {"id": str(teen.id), "subject_code": "T-01", "relationship": "self"}
    ]


async def test_two_concurrent_refreshes_of_one_token_one_wins_and_its_tokens_keep_working(
    committing_client: httpx.AsyncClient,
) -> None:
    # a phone firing two refreshes at once (two screens, a retry after a timeout) races itself: one answer
    # is 200, the other 401, and the winner's new refresh token must not be revoked by the loser (RFC 9700
    # allows this grace; revoking the family here would sign the phone out for nothing)
    from core.db import session_scope

    async with session_scope() as session:
        await factories.create_user(session, email="race@example.org")
    pair = (await login(committing_client, "race@example.org")).json()
    answers = await asyncio.gather(
        *(committing_client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 401]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert (
        await committing_client.get(f"{API}/me", headers=bearer(winner["access_token"]))
    ).status_code == 200
    again = await committing_client.post(REFRESH, json={"refresh_token": winner["refresh_token"]})
    assert again.status_code == 200, again.text
    async with session_scope() as session:
        assert "auth.refresh_token_reused" not in await actions(session)
        rows = (await session.execute(select(RefreshToken))).scalars().all()
        assert len(rows) == 3 and all(r.revoked_at is None for r in rows)


async def test_a_spent_token_inside_the_race_window_is_refused_without_ending_the_family(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="retry@example.org")
    first = (await login(client, "retry@example.org")).json()
    start = clock.now()
    clock.set_now(start)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    clock.set_now(start + timedelta(seconds=30))  # the window's last second still counts as a race
    late_twin = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert late_twin.status_code == 401
    assert late_twin.json()["error"] == "not_authenticated"
    assert (await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})).status_code == 200
    assert "auth.refresh_token_reused" not in await actions(session)


async def test_a_spent_token_after_the_race_window_is_theft_and_ends_the_family(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    user = await factories.create_user(session, email="stolen@example.org")
    first = (await login(client, "stolen@example.org")).json()
    start = clock.now()
    clock.set_now(start)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    clock.set_now(start + timedelta(seconds=31))
    assert (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})).status_code == 401
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.refresh_token_reused"))
    ).scalar_one()
    assert event.actor_id == user.id and event.after is not None and event.after["revoked"] is True


async def test_unknown_email_costs_the_same_argon2_work_as_a_wrong_password(
    session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import security

    verified: list[str] = []
    real = security.verify_password_sync

    def counting(password: str, password_hash: str) -> bool:
        verified.append(password_hash.split("$")[1])  # the scheme, e.g. argon2id
        return real(password, password_hash)

    monkeypatch.setattr(security, "verify_password_sync", counting)
    await factories.create_user(session, email="known@example.org")
    await login(client, "known@example.org", "Not-The-Password-123")
    await login(client, "unknown@example.org", "Not-The-Password-123")
    assert verified == ["argon2id", "argon2id"]
