"""Backup and restore as the README tells an operator (issue 13): pg_dump/pg_restore on PostgreSQL, SQLite's
online backup for the embedded default, both taken while the service runs; the restored database holds every
entry, every version and every audit event, and the service answers from it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from core import migrations
from tests.conftest import BACKEND, create_database, drop_database
from tests.faults.live import cli, demo_login, glucose, postgres_bin, running, sign_in
from tests.urls import API

QUERIES = {
    "entries": "SELECT id, participant_id, kind, occurred_at FROM diary_entry",
    "versions": "SELECT entry_id, version, op, audit_record, reason FROM diary_entry_version",
    "audit events": "SELECT id, action, subject_type, subject_id, after FROM audit_event",
}


@pytest.fixture
def source(tmp_path: Path) -> Iterator[str]:
    url = create_database("backup_source")
    migrations.upgrade(url)
    cli(["demo"], url, tmp_path)
    yield url
    drop_database(url)


def _rows(url: str, query: str) -> set[tuple[object, ...]]:
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.split("///", 1)[1])) as connection:
            return {tuple(row) for row in connection.execute(query)}

    async def fetch() -> set[tuple[object, ...]]:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return {tuple(row) for row in await connection.fetch(query)}
        finally:
            await connection.close()

    return asyncio.run(fetch())


def _backup_and_restore(url: str, folder: Path) -> str:
    """What the README says to run: the restored database's URL."""
    if url.startswith("sqlite"):
        backup = folder / "backup.db"
        # SQLite's online backup: a consistent copy while the service keeps writing (README, Backup)
        with (
            contextlib.closing(sqlite3.connect(url.split("///", 1)[1])) as live,
            contextlib.closing(sqlite3.connect(backup)) as copy,
        ):
            live.backup(copy)
        restored = folder / "restored.db"
        shutil.copyfile(backup, restored)
        return f"sqlite+aiosqlite:///{restored}"
    server = make_url(url)
    bindir = postgres_bin()
    assert bindir is not None, "pg_dump is needed for the PostgreSQL leg"
    connect = [
        "-h",
        server.host or "127.0.0.1",
        "-p",
        str(server.port or 5432),
        "-U",
        server.username or "postgres",
    ]
    dump = folder / "glucodiary.dump"
    subprocess.run(
        [str(bindir / "pg_dump"), *connect, "--format=custom", "--file", str(dump), server.database or ""],
        check=True,
        capture_output=True,
        timeout=300,
    )
    restored_url = create_database("backup_restored")
    subprocess.run(
        [
            str(bindir / "pg_restore"),
            *connect,
            "--no-owner",
            "--exit-on-error",
            "-d",
            make_url(restored_url).database or "",
            str(dump),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return restored_url


def test_backup_taken_while_serving_restores_every_entry_version_and_audit_event(
    source: str, tmp_path: Path
) -> None:
    with running(source, tmp_path) as service:
        headers, me = sign_in(service.base, demo_login("adult@demo.glucodiary.test"))
        path = f"{API}/participants/{me['participants'][0]['id']}/entries"
        ours = [glucose(str(uuid.uuid4()), minutes_ago=10 + i, value=100 + i) for i in range(20)]
        answer = httpx.post(
            f"{service.base}{path}/batch", json={"entries": ours}, headers=headers, timeout=60
        )
        assert answer.status_code in (200, 201), answer.text
        restored = _backup_and_restore(source, tmp_path)
    try:
        for what, query in QUERIES.items():
            original, copy = _rows(source, query), _rows(restored, query)
            assert original, f"the source has no {what}: nothing was tested"
            assert copy == original, f"{what}: {len(original - copy)} missing, {len(copy - original)} extra"
        # and the service runs on the restored database: our entries are there through the API
        with running(restored, tmp_path) as service:
            headers, _ = sign_in(service.base, demo_login("adult@demo.glucodiary.test"))
            listed = httpx.get(f"{service.base}{path}", params={"limit": 500}, headers=headers, timeout=30)
            assert listed.status_code == 200, listed.text
            assert {e["id"] for e in ours} <= {item["id"] for item in listed.json()["items"]}
    finally:
        if BACKEND == "postgres":
            drop_database(restored)
