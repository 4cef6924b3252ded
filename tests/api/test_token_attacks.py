"""Forged, stale and misused access tokens: each is a 401 with the error body, never a 500 or a success."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.config import get_settings
from core.models.people import User
from tests import factories
from tests.urls import API

ME = f"{API}/me"


def _claims(user: User, **changes: Any) -> dict[str, Any]:
    settings = get_settings().security
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + 600,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "jti": "attack-test",
        "typ": "access",
        "ver": user.token_version,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: str | None = None, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, key or get_settings().jwt_secret_value(), algorithm="HS256", headers=headers)


def _b64(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def tampered(user: User) -> str:
    token = _sign(_claims(user))
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{body}.{flipped}"


def alg_none(user: User) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user))}."


def payload_swapped(user: User) -> str:
    # a validly signed token for someone else's claims, with our user's claims pasted in
    head, _, signature = _sign(_claims(user, sub="00000000-0000-0000-0000-000000000000")).split(".")
    return f"{head}.{_b64(_claims(user))}.{signature}"


ATTACKS: dict[str, Callable[[User], str]] = {
    "tampered signature": tampered,
    "alg none": alg_none,
    "payload swapped under a valid signature": payload_swapped,
    "HS256 with another key": lambda u: _sign(_claims(u), key="another-key-that-is-long-enough-0123456789"),
    "missing aud": lambda u: _sign(_claims(u, aud=None)),
    "wrong aud": lambda u: _sign(_claims(u, aud="someone-else")),
    "wrong iss": lambda u: _sign(_claims(u, iss="https://evil.example")),
    "missing jti": lambda u: _sign(_claims(u, jti=None)),
    "missing exp": lambda u: _sign(_claims(u, exp=None)),
    "missing iat": lambda u: _sign(_claims(u, iat=None)),
    "missing sub": lambda u: _sign(_claims(u, sub=None)),
    "missing iss": lambda u: _sign(_claims(u, iss=None)),
    "exp not a number": lambda u: _sign(_claims(u, exp="tomorrow")),
    "missing token version": lambda u: _sign(_claims(u, ver=None)),
    "old token version": lambda u: _sign(_claims(u, ver=u.token_version - 1)),
    "future iat": lambda u: _sign(_claims(u, iat=int(time.time()) + 3600, exp=int(time.time()) + 4000)),
    "expired": lambda u: _sign(_claims(u, iat=int(time.time()) - 1200, exp=int(time.time()) - 300)),
    "unknown crit header": lambda u: _sign(_claims(u), headers={"crit": ["x-glucodiary-ext"]}),
    "wrong typ": lambda u: _sign(_claims(u, typ="refresh")),
    # claims of the wrong JSON type or out of range, though signed with the real key (issue 13)
    "exp of 10**20": lambda u: _sign(_claims(u, exp=10**20)),
    "exp as a numeric string": lambda u: _sign(_claims(u, exp=str(int(time.time()) + 600))),
    "iat as a numeric string": lambda u: _sign(_claims(u, iat=str(int(time.time())))),
    "exp as a fraction": lambda u: _sign(_claims(u, exp=time.time() + 600.5)),
    "ver as a string": lambda u: _sign(_claims(u, ver=str(u.token_version))),
    "ver as a boolean": lambda u: _sign(_claims(u, ver=True)),
    "aud as a list": lambda u: _sign(_claims(u, aud=[get_settings().security.jwt_audience])),
    "sub as a number": lambda u: _sign(_claims(u, sub=u.id.int)),
    "jti as a number": lambda u: _sign(_claims(u, jti=7)),
    "unknown kid header": lambda u: _sign(_claims(u), headers={"kid": "2019-rotated-out"}),
    "not a jwt": lambda _u: "definitely-not-a-token",
    "garbage segments": lambda _u: "e30.e30.e30",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_attack_is_a_401(attack: str, session: AsyncSession, client: httpx.AsyncClient) -> None:
    user = await factories.create_user(session, token_version=3)
    honest = await client.get(ME, headers={"Authorization": f"Bearer {_sign(_claims(user))}"})
    assert honest.status_code == 200  # the forging helpers make valid tokens when left alone
    answer = await client.get(ME, headers={"Authorization": f"Bearer {ATTACKS[attack](user)}"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "not_authenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_an_issued_token_expires_after_fifteen_minutes(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    user = await factories.create_user(session)
    headers = factories.auth_headers(user)
    clock.set_now(clock.now() + timedelta(minutes=14))
    assert (await client.get(ME, headers=headers)).status_code == 200
    clock.set_now(clock.now() + timedelta(minutes=2))
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_token_times_follow_the_service_clock_even_when_it_is_set_in_the_past(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    # the service's clock, not the wall clock, decides: a token issued on 1 March 2025 by that clock is
    # good for 15 minutes of it
    user = await factories.create_user(session)
    clock.set_now(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    headers = factories.auth_headers(user)
    assert (await client.get(ME, headers=headers)).status_code == 200
    clock.set_now(datetime(2025, 3, 1, 8, 16, tzinfo=UTC))
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_a_refresh_token_is_not_an_access_token(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, email="misuse@example.org")
    pair = (
        await client.post(
            f"{API}/auth/token",
            data={"username": "misuse@example.org", "password": factories.DEFAULT_PASSWORD},
        )
    ).json()
    answer = await client.get(ME, headers={"Authorization": f"Bearer {pair['refresh_token']}"})
    assert answer.status_code == 401


async def test_no_token_is_a_401(client: httpx.AsyncClient) -> None:
    answer = await client.get(ME)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_checked_once_is_refused_after_the_key_changes(
    session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verified signatures are remembered per token string; rotating the key must still end old tokens
    user = await factories.create_user(session)
    headers = factories.auth_headers(user)
    assert (await client.get(ME, headers=headers)).status_code == 200
    monkeypatch.setattr(
        get_settings().security, "jwt_secret", SecretStr("a-rotated-signing-key-that-is-long-enough-42")
    )
    answer = await client.get(ME, headers=headers)
    assert answer.status_code == 401 and answer.json()["error"] == "not_authenticated"
