"""The throwaway PostgreSQL database of one benchmark run: start the cluster if needed, create, drop."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from pathlib import Path

import asyncpg

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432"


async def _fetch_version(server_dsn: str) -> str:
    connection = await asyncpg.connect(f"{server_dsn}/postgres", timeout=3)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def _execute(server_dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(f"{server_dsn}/postgres", timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def ensure_running(server_dsn: str, timeout_s: float = 30.0) -> str:
    """Return the server version, starting the local cluster(s) first if nothing answers."""
    try:
        return asyncio.run(_fetch_version(server_dsn))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        pass
    print("bench: PostgreSQL does not answer; starting the local cluster")
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
    for version in versions:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return asyncio.run(_fetch_version(server_dsn))
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def create_database(server_dsn: str) -> str:
    name = f"glucodiary_bench_{secrets.token_hex(4)}"
    asyncio.run(_execute(server_dsn, f'CREATE DATABASE "{name}"'))
    return name


def drop_database(server_dsn: str, name: str) -> None:
    # FORCE: a server killed mid-run may leave connections behind (PostgreSQL 13+).
    asyncio.run(_execute(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
