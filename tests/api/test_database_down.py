"""With the database gone the service answers 503 (never 500), and it recovers by itself when it returns."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.deps import SessionDep
from api.main import create_app
from core.db import build_engine, database
from tests.conftest import BACKEND
from tests.urls import API

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="needs a database server to take away")


class TcpRelay:
    """A loopback TCP relay in front of PostgreSQL that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()
        self.writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def relay_client(database_url: str) -> AsyncIterator[tuple[TcpRelay, httpx.AsyncClient]]:
    url = make_url(database_url)
    relay = TcpRelay(url.port or 5432)
    await relay.start()
    previous = database.engine
    relayed = build_engine(url.set(port=relay.port).render_as_string(hide_password=False))
    database.use(relayed)
    app = create_app()

    @app.get(f"{API}/_db")
    async def db_probe(session: SessionDep) -> dict[str, int]:
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield relay, client
    finally:
        await relayed.dispose()
        database.use(previous)
        with contextlib.suppress(Exception):
            await relay.stop()


async def test_database_down_then_back(relay_client: tuple[TcpRelay, httpx.AsyncClient]) -> None:
    relay, client = relay_client
    assert (await client.get("/ready")).status_code == 200
    assert (await client.get(f"{API}/_db")).json() == {"one": 1}

    await relay.stop()
    ready = await client.get("/ready")
    assert ready.status_code == 503 and ready.json()["error"] == "service_unavailable"
    request = await client.get(f"{API}/_db")
    assert request.status_code == 503
    assert request.json()["error"] == "service_unavailable" and "retry" in request.json()["detail"].lower()

    await relay.start()  # same port: the database is back
    for _ in range(20):
        if (await client.get(f"{API}/_db")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await client.get(f"{API}/_db")).json() == {"one": 1}
    assert (await client.get("/ready")).status_code == 200
