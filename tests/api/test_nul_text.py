"""A NUL character (\\u0000) in text from a user: a 422 naming the field, on both databases (PostgreSQL cannot
store it: each of these was a 500 there, issue 13). The diary's own fields are tested with the diary."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from tests import factories
from tests.urls import API

API = f"{API}"


def _names_field(answer: httpx.Response, path: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_input"
    assert [f["path"] for f in body["fields"]] == [path], body
    assert "NUL" in body["fields"][0]["message"]


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("kind=%00", "query.kind"),
        ("kind=hypo%00", "query.kind"),
        ("cursor=abc%00def", "query.cursor"),
        ("limit=5&status=open%00", "query.status"),
        ("unknown=%00", "query.unknown"),
    ],
)
async def test_nul_in_a_query_parameter_is_a_422_naming_it(
    query: str, path: str, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    clinician = await factories.create_staff(session, study, Role.clinician)
    answer = await client.get(f"{API}/alerts?{query}", headers=factories.auth_headers(clinician))
    _names_field(answer, path)


async def test_nul_in_a_query_parameter_is_refused_before_authentication(client: httpx.AsyncClient) -> None:
    # nothing about the request can be answered while its query holds text we cannot store or compare
    _names_field(await client.get(f"{API}/alerts?kind=%00"), "query.kind")


async def test_an_ordinary_query_still_works(session: AsyncSession, client: httpx.AsyncClient) -> None:
    study = await factories.create_study(session)
    clinician = await factories.create_staff(session, study, Role.clinician)
    answer = await client.get(f"{API}/alerts?kind=ketones_high", headers=factories.auth_headers(clinician))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("field", ["username", "password"])
async def test_nul_in_the_login_form_is_a_422_naming_the_field(
    field: str, session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="nul@example.org")
    form = {"username": "nul@example.org", "password": factories.DEFAULT_PASSWORD}
    form[field] = form[field] + "\x00"
    _names_field(await client.post(f"{API}/auth/token", data=form), field)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("resolve", {"note": "Juice\x00 taken"}),
        ("decision", {"decision": "no_change", "note": "\x00"}),
    ],
)
async def test_nul_in_an_alert_note_is_a_422_naming_note(
    action: str, body: dict[str, str], session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    clinician = await factories.create_staff(session, study, Role.clinician)
    answer = await client.post(
        f"{API}/alerts/{uuid.uuid4()}/{action}", json=body, headers=factories.auth_headers(clinician)
    )
    _names_field(answer, "note")


async def test_nul_in_invitation_and_redeem_fields_is_a_422_naming_the_field(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    coordinator = await factories.create_staff(session, study, Role.coordinator)
    participant = await factories.create_participant(session, study, with_login=False)
    answer = await client.post(
        f"{API}/participants/{participant.id}/invitations",
        json={"role": "guardian", "relationship": "mo\x00ther"},
        headers=factories.auth_headers(coordinator),
    )
    _names_field(answer, "relationship")
    redeem = {"code": "abc", "email": "new@example.org", "password": "correct horse battery staple"}
    for field in redeem:
        _names_field(
            await client.post(f"{API}/invitations/redeem", json={**redeem, field: redeem[field] + "\x00"}),
            field,
        )


async def test_nul_in_study_and_staff_fields_is_a_422_naming_the_field(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    admin = await factories.create_user(session, role=Role.admin)
    study = await factories.create_study(session)
    headers = factories.auth_headers(admin)
    staff = {
        "email": "st\x00aff@example.org",
        "password": "correct horse battery staple",
        "role": "clinician",
    }
    _names_field(await client.post(f"{API}/studies/{study.id}/staff", json=staff, headers=headers), "email")
    study_body = {
        "code": "NULSTUDY",
        "name": "A\x00 study",
        "timezone": "Europe/Ljubljana",
        "sites": [{"code": "S1", "name": "Site 1", "timezone": "Europe/Ljubljana"}],
        "arms": [{"code": "A", "name": "Arm A"}],
    }
    answer = await client.post(f"{API}/studies", json=study_body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "name" in [f["path"] for f in answer.json()["fields"]]
