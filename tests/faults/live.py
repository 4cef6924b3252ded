"""Real processes for the fault tests: a throwaway PostgreSQL cluster (initdb/pg_ctl on its own port and
folder) and the service itself (`glucodiary serve` in a subprocess), both on loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from glob import glob
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from core.demo.people import LOGINS, DemoLogin
from tests.urls import API

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps them under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


class PgCluster:
    """A PostgreSQL cluster of the test's own: its folder, its port, started and stopped by the test.

    initdb and the server refuse to run as root; as root they run as the `postgres` account."""

    def __init__(self) -> None:
        bindir = postgres_bin()
        assert bindir is not None
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="glucodiary-pgcluster-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=40"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> None:
        self._run(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def cli(args: list[str], database_url: str, data_dir: Path, timeout: float = 180) -> str:
    """Run a `glucodiary` command against `database_url`; its output (failing the test when it fails)."""
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        env=service_env(database_url, data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, f"glucodiary {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


def service_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUCODIARY_")}
    env.update(
        GLUCODIARY_ENV="test",
        GLUCODIARY_DATA_DIR=str(data_dir),
        GLUCODIARY_DB__URL=database_url,
        GLUCODIARY_LOG_LEVEL="WARNING",
        GLUCODIARY_SECURITY__ARGON2_TIME_COST="1",
        GLUCODIARY_SECURITY__ARGON2_MEMORY_KIB="64",
        GLUCODIARY_SECURITY__ARGON2_PARALLELISM="1",
    )
    return env


class Service:
    """`glucodiary serve` in its own process on a free loopback port."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"serve-{self.port}.log"

    def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "core.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=service_env(self.database_url, self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the service died: {self.log.read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the service was not ready within {timeout} s")

    def kill(self) -> None:
        """kill -9: no shutdown handler runs, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running(database_url: str, data_dir: Path) -> Iterator[Service]:
    service = Service(database_url, data_dir)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def demo_login(role_or_email: str) -> DemoLogin:
    return next(login for login in LOGINS if role_or_email in (login.email, login.role))


def sign_in(base: str, login: DemoLogin) -> tuple[dict[str, str], dict[str, Any]]:
    """The bearer header of a demo login and its /me."""
    pair = httpx.post(
        f"{base}{API}/auth/token", data={"username": login.email, "password": login.password}, timeout=30
    )
    assert pair.status_code == 200, pair.text
    headers = {"Authorization": f"Bearer {pair.json()['access_token']}"}
    me = httpx.get(f"{base}{API}/me", headers=headers, timeout=30)
    assert me.status_code == 200, me.text
    return headers, me.json()


def glucose(entry_id: str, minutes_ago: int, value: int = 110) -> dict[str, Any]:
    """A glucose reading as a phone sends it, `minutes_ago` before now (with the participant's offset)."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    return {
        "id": entry_id,
        "kind": "glucose",
        "occurred_at": at.isoformat(),
        "value": value,
        "unit": "mg/dL",
        "context": "random",
        "source": "meter",
    }


def count_where_in(url: str, table: str, column: str, ids: list[str]) -> int:
    """Rows of `table` whose uuid `column` is one of `ids`, read straight from the database (not the API)."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.split("///", 1)[1])) as connection:
            marks = ",".join("?" * len(ids))
            query = f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})"  # noqa: S608 (our names)
            return int(connection.execute(query, [uuid.UUID(i).hex for i in ids]).fetchone()[0])

    async def count() -> int:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            query = f"SELECT count(*) FROM {table} WHERE {column} = ANY($1::uuid[])"  # noqa: S608
            return int(await connection.fetchval(query, ids))
        finally:
            await connection.close()

    return asyncio.run(count())
