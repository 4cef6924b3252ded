"""Onboarding phones: a coordinator's single-use, expiring code creates a participant's or a guardian's login."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core import clock
from core.models.auth import AuditEvent, Invitation
from core.models.people import Role
from tests import factories
from tests.urls import API

STRONG = "Copper-Walrus-Tangerine-58"


async def invite(
    client: httpx.AsyncClient, coordinator_headers: dict[str, str], participant_id: object, **body: str
) -> httpx.Response:
    return await client.post(
        f"{API}/participants/{participant_id}/invitations", json=body, headers=coordinator_headers
    )


async def redeem(client: httpx.AsyncClient, code: str, email: str, password: str = STRONG) -> httpx.Response:
    return await client.post(
        f"{API}/invitations/redeem", json={"code": code, "email": email, "password": password}
    )


async def test_participant_redeems_once_and_then_signs_in(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    teen = await factories.create_participant(session, study, subject_code="T-15", with_login=False)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    made = await invite(client, coordinator, teen.id, role="participant")
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    stored = (await session.execute(select(Invitation))).scalar_one()
    assert code not in (stored.code_hash, stored.relationship)  # only a hash is kept

    first = await redeem(client, code, "teen@example.org")
    assert first.status_code == 201, first.text
    assert first.json()["role"] == "participant"
    assert (await redeem(client, code, "copy@example.org")).status_code == 409  # single use

    token = await client.post(f"{API}/auth/token", data={"username": "teen@example.org", "password": STRONG})
    me = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["participants"] == [{"id": str(teen.id), "subject_code": "T-15", "relationship": "self"}]
    # a second login for the same participant cannot be invited
    assert (await invite(client, coordinator, teen.id, role="participant")).status_code == 409
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert {"invitation.created", "invitation.redeemed"} <= set(actions)


async def test_guardian_of_two_children_keeps_one_login(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    older = await factories.create_participant(session, study, subject_code="C-1", with_login=False)
    younger = await factories.create_participant(session, study, subject_code="C-2", with_login=False)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    no_relationship = await invite(client, coordinator, older.id, role="guardian")
    assert (
        no_relationship.status_code == 422 and no_relationship.json()["fields"][0]["path"] == "relationship"
    )

    first = (await invite(client, coordinator, older.id, role="guardian", relationship="mother")).json()[
        "code"
    ]
    second = (await invite(client, coordinator, younger.id, role="guardian", relationship="mother")).json()[
        "code"
    ]
    made = await redeem(client, first, "mum@example.org")
    assert made.status_code == 201 and made.json()["role"] == "guardian"
    wrong_password = await redeem(client, second, "mum@example.org", "Someone-Elses-Pass-42")
    assert wrong_password.status_code == 409
    linked = await redeem(client, second, "mum@example.org")
    assert linked.status_code == 201 and linked.json()["user_id"] == made.json()["user_id"]

    token = await client.post(f"{API}/auth/token", data={"username": "mum@example.org", "password": STRONG})
    me = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert [(p["subject_code"], p["relationship"]) for p in me.json()["participants"]] == [
        ("C-1", "mother"),
        ("C-2", "mother"),
    ]


async def test_expired_or_unknown_codes_do_nothing(session: AsyncSession, client: httpx.AsyncClient) -> None:
    study = await factories.create_study(session)
    child = await factories.create_participant(session, study, with_login=False)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    code = (await invite(client, coordinator, child.id, role="guardian", relationship="father")).json()[
        "code"
    ]
    clock.set_now(clock.now() + timedelta(days=8))  # codes live 7 days
    assert (await redeem(client, code, "late@example.org")).status_code == 404
    assert (await redeem(client, "made-up-code", "late@example.org")).status_code == 404
    weak = await redeem(client, code, "late@example.org", "password1234")
    assert weak.status_code == 404  # the code is checked before anything is created


async def test_weak_password_on_redeem_is_refused_and_the_code_stays_usable(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    child = await factories.create_participant(session, study, with_login=False)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    code = (await invite(client, coordinator, child.id, role="guardian", relationship="father")).json()[
        "code"
    ]
    weak = await redeem(client, code, "dad@example.org", "password1234")
    assert weak.status_code == 422 and weak.json()["fields"][0]["path"] == "password"
    assert (await redeem(client, code, "dad@example.org")).status_code == 201
