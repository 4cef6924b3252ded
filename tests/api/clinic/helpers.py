"""Signing in to the clinic dashboard as a browser would, for the tests that drive it over HTTP (no browser)."""

from __future__ import annotations

import re

import httpx

from core.models.people import User
from tests.factories import DEFAULT_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, user: User, password: str = DEFAULT_PASSWORD) -> httpx.Response:
    form = await client.get("/clinic/sign-in")
    assert form.status_code == 200, form.text
    return await client.post(
        "/clinic/sign-in",
        data={"email": user.email, "password": password, "csrf_token": csrf_of(form.text)},
    )


async def signed_in(client: httpx.AsyncClient, user: User) -> str:
    """Signs `user` in and returns the CSRF token of their session (from the page they land on)."""
    answer = await sign_in(client, user)
    assert answer.status_code == 303, answer.text
    landing = await client.get(answer.headers["location"])
    assert landing.status_code == 200, landing.text
    return csrf_of(landing.text)
