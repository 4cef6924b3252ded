"""Login throttling: per account and per client address, growing waits, 429 with Retry-After, shared via the database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.config import get_settings
from tests import factories
from tests.conftest import BACKEND
from tests.urls import API

TOKEN = f"{API}/auth/token"
WRONG = "Wrong-Password-Guess-0"


async def attempt(
    client: httpx.AsyncClient, email: str, password: str = WRONG, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password}, headers=headers)


@pytest.fixture
def trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().http, "trusted_proxies", ["127.0.0.1"])


async def test_waits_grow_after_five_failures_and_hold_even_for_the_right_password(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    clock.set_now(clock.now())  # frozen: waits only pass when the test moves the clock
    await factories.create_user(session, email="target@example.org")
    for _ in range(5):
        assert (await attempt(client, "target@example.org")).status_code == 401
    held = await attempt(client, "target@example.org", factories.DEFAULT_PASSWORD)
    assert held.status_code == 429 and held.headers["Retry-After"] == "1"
    assert held.json()["error"] == "too_many_requests"

    clock.set_now(clock.now() + timedelta(seconds=1))
    assert (await attempt(client, "target@example.org")).status_code == 401  # 6th failure: wait 2 s
    assert (await attempt(client, "target@example.org")).headers["Retry-After"] == "2"
    clock.set_now(clock.now() + timedelta(seconds=2))
    assert (await attempt(client, "target@example.org")).status_code == 401  # 7th failure: wait 4 s
    assert (await attempt(client, "target@example.org")).headers["Retry-After"] == "4"

    clock.set_now(clock.now() + timedelta(seconds=4))
    assert (await attempt(client, "target@example.org", factories.DEFAULT_PASSWORD)).status_code == 200
    # a success clears the account's count: one new failure is not throttled
    assert (await attempt(client, "target@example.org")).status_code == 401
    assert (await attempt(client, "target@example.org", factories.DEFAULT_PASSWORD)).status_code == 200


async def test_unknown_accounts_are_throttled_exactly_like_known_ones(client: httpx.AsyncClient) -> None:
    clock.set_now(clock.now())
    for _ in range(5):
        assert (await attempt(client, "ghost@example.org")).status_code == 401
    assert (await attempt(client, "ghost@example.org")).status_code == 429


async def test_one_address_trying_many_accounts_is_throttled(
    trusted_proxy: None, session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_now(clock.now())
    monkeypatch.setattr(get_settings().security, "login_address_free_failures", 3)
    await factories.create_user(session, email="victim@example.org")
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(3):
        assert (await attempt(client, f"guess{n}@example.org", headers=attacker)).status_code == 401
    # the address is held, whichever account it tries
    assert (
        await attempt(client, "victim@example.org", factories.DEFAULT_PASSWORD, attacker)
    ).status_code == 429
    # the same account from another address behind the proxy still signs in
    nurse = {"X-Forwarded-For": "198.51.100.20"}
    assert (await attempt(client, "victim@example.org", factories.DEFAULT_PASSWORD, nurse)).status_code == 200


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_now(clock.now())
    monkeypatch.setattr(get_settings().security, "login_address_free_failures", 3)
    # a client rotating a made-up X-Forwarded-For is still one address (the direct peer)
    for n in range(3):
        spoof = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert (await attempt(client, f"spoof{n}@example.org", headers=spoof)).status_code == 401
    assert (
        await attempt(client, "other@example.org", headers={"X-Forwarded-For": "192.0.2.99"})
    ).status_code == 429


# ---- two server processes sharing one PostgreSQL database ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    if BACKEND != "postgres":
        pytest.skip("processes share state through PostgreSQL; SQLite is one process's file")
    env = {
        **os.environ,
        "GLUCODIARY_DB__URL": database_url,
        "GLUCODIARY_DATA_DIR": str(tmp_path_factory.mktemp("servers")),
        "GLUCODIARY_SECURITY__JWT_SECRET": "two-process-test-secret-0123456789abcdef",
        "GLUCODIARY_DB__POOL_SIZE": "2",
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(150):
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"server at {base} did not start")


async def test_throttling_holds_across_two_server_processes(
    two_servers: list[str], committing_app: object
) -> None:
    from core.db import session_scope

    async with session_scope() as session:
        await factories.create_user(session, email="shared@example.org")
    await asyncio.gather(*(_wait_ready(base) for base in two_servers))
    first, second = (httpx.AsyncClient(base_url=base, timeout=10) for base in two_servers)
    async with first, second:
        for n in range(5):  # failures alternate between the processes
            answer = await attempt(first if n % 2 == 0 else second, "shared@example.org")
            assert answer.status_code == 401, answer.text
        for server in (first, second):
            held = await attempt(server, "shared@example.org", factories.DEFAULT_PASSWORD)
            assert held.status_code == 429, held.text
            assert int(held.headers["Retry-After"]) >= 1
