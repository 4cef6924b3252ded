"""The clinic tests' browser-like client (cookies kept, https so the Secure cookies come back)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

# outside development the cookies are Secure: the test client must speak https to get them back
BASE = "https://testserver"


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client keeping cookies, like a browser, against the test app (its rolled-back session)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client
