"""The registry of benchmark scenarios and the servers they run against; add new scenarios here.

A scenario is a name, a server to start, the request wrk repeats (method, path, body, headers, or its own
Lua script in bench/lua/) and an optional setup hook that runs once the server is up and returns extra
headers (an Authorization token, say), or a SetupResult that also fills "<name>" slots in the path and body
(a participant id it created). Every "__UUID__" in a body becomes a fresh UUID4 per request.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.apps import CORE_PATH, GLUCOSE_PATH

# uvicorn's defaults: uvloop and httptools when installed, as `glucodiary serve` gets them.
UVICORN_LOOP = "auto"
UVICORN_HTTP = "auto"


@dataclass(frozen=True)
class RunContext:
    """What servers and hooks may use: paths, the throwaway database, a scratch directory."""

    repo: Path
    venv_bin: Path
    server_dsn: str  # postgresql://user@host:port, no database
    database: str
    scratch: Path

    @property
    def db_dsn(self) -> str:
        return f"{self.server_dsn}/{self.database}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.db_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    @property
    def python(self) -> str:
        return str(self.venv_bin / "python")

    def glucodiary_env(self) -> dict[str, str]:
        """The environment of the real service: development mode on the throwaway database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUCODIARY_")}
        env.update(
            GLUCODIARY_DB__URL=self.sqlalchemy_url,
            GLUCODIARY_ENV="development",
            GLUCODIARY_DATA_DIR=str(self.scratch / "glucodiary-data"),
        )
        return env

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `glucodiary ARGS` against the benchmark database (for setup hooks: accounts, demo data)."""
        return subprocess.run(
            [str(self.venv_bin / "glucodiary"), *args],
            cwd=self.repo,
            env=self.glucodiary_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@dataclass(frozen=True)
class SetupResult:
    headers: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # "<name>" in path and body -> value

    def fill(self, text: str) -> str:
        for name, value in self.values.items():
            text = text.replace(f"<{name}>", value)
        return text


SetupHook = Callable[["RunContext", str], "dict[str, str] | SetupResult"]  # (ctx, base_url)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: Callable[[RunContext, int], list[str]]  # argv, given the port
    env: Callable[[RunContext], dict[str, str]]
    # Why this server cannot run (e.g. the app does not import yet), or None; checked before prepare.
    unavailable: Callable[[RunContext], str | None] = lambda ctx: None
    prepare: Callable[[RunContext], None] | None = None  # once per benchmark run, before the first start


@dataclass(frozen=True)
class Scenario:
    name: str
    server: ServerSpec
    description: str
    method: str = "GET"
    path: str = "/"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lua: str = "request.lua"  # in bench/lua/; a custom script must still set done = require("report").done
    setup: SetupHook | None = None
    expect_status: tuple[int, ...] = (200,)
    connections: int | None = None  # open connections for this scenario (None: BENCH_CONNECTIONS)


def _uvicorn(app: str) -> Callable[[RunContext, int], list[str]]:
    def command(ctx: RunContext, port: int) -> list[str]:
        return [
            ctx.python,
            "-m",
            "uvicorn",
            app,
            "--app-dir",
            str(ctx.repo),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            UVICORN_LOOP,
            "--http",
            UVICORN_HTTP,
            "--no-server-header",
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    return command


def _bench_env(ctx: RunContext) -> dict[str, str]:
    return {**os.environ, "BENCH_DB_DSN": ctx.db_dsn}


def _glucodiary_unavailable(ctx: RunContext) -> str | None:
    if not (ctx.venv_bin / "glucodiary").exists():
        return f"{ctx.venv_bin / 'glucodiary'} is missing (pip install -e '.[dev]')"
    probe = subprocess.run(
        [ctx.python, "-c", "from api.main import create_app"],
        cwd=ctx.repo,
        env=ctx.glucodiary_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["(no output)"]
        return f"api.main:create_app does not import: {lines[-1]}"
    return None


def _glucodiary_migrate(ctx: RunContext) -> None:
    result = ctx.cli("migrate")
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-10:]
        raise RuntimeError("`glucodiary migrate` failed:\n" + "\n".join(output))


BASELINE_SERVER = ServerSpec("bench.apps:baseline_app", _uvicorn("bench.apps:baseline_app"), _bench_env)
DB_LIMIT_SERVER = ServerSpec("bench.apps:db_limit_app", _uvicorn("bench.apps:db_limit_app"), _bench_env)
STACK_FLOOR_SERVER = ServerSpec(
    "bench.apps:stack_floor_app", _uvicorn("bench.apps:stack_floor_app"), _bench_env
)
GLUCODIARY_SERVER = ServerSpec(
    name="glucodiary serve",
    command=lambda ctx, port: [
        str(ctx.venv_bin / "glucodiary"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ],
    env=lambda ctx: ctx.glucodiary_env(),
    unavailable=_glucodiary_unavailable,
    prepare=_glucodiary_migrate,
)

JSON_HEADERS = {"Content-Type": "application/json"}
GLUCOSE_BODY = json.dumps(
    {"id": "__UUID__", "value": 5.8, "unit": "mmol/L", "occurred_at": "2025-03-14T07:30:00+01:00"}
)


def _reference(name: str, server: ServerSpec, description: str, path: str = GLUCOSE_PATH) -> Scenario:
    """A reference app's scenario: POST of the glucose-like body to one of bench.apps' endpoints."""
    return Scenario(
        name=name,
        server=server,
        description=description,
        method="POST",
        path=path,
        body=GLUCOSE_BODY,
        headers=JSON_HEADERS,
        expect_status=(201,),
    )


# Order matters: baseline first, since every other figure is divided by it.
SCENARIOS: list[Scenario] = [
    _reference("baseline", BASELINE_SERVER, "bare FastAPI: validate a glucose-like JSON body, no database"),
    _reference("db_limit", DB_LIMIT_SERVER, "baseline + one asyncpg INSERT per request (the database limit)"),
    _reference(
        "stack_floor",
        STACK_FLOOR_SERVER,
        "the same INSERT through FastAPI + a SQLAlchemy AsyncSession transaction (the stack's floor)",
    ),
    _reference(
        "stack_floor_core",
        STACK_FLOOR_SERVER,
        "the same INSERT in a transaction on a SQLAlchemy Core connection (no ORM session)",
        path=CORE_PATH,
    ),
    Scenario(
        name="health",
        server=GLUCODIARY_SERVER,
        description="the real service's GET /health",
        path="/health",
    ),
]


# ---- the diary (issue 4) ---------------------------------------------------------------------------------
def _diary_participant(entries: int, participants: int = 1) -> SetupHook:
    """A setup hook: fresh participants with logins, `entries` readings for the first (bench/seed_diary.py).

    The participants and their tokens also go to a file (`values["people_file"]`), which the driver names to
    wrk in BENCH_DIARY_PEOPLE, for bench/lua/diary_post.lua.
    """

    def hook(ctx: RunContext, _base_url: str) -> SetupResult:
        done = subprocess.run(
            [
                ctx.python,
                "-m",
                "bench.seed_diary",
                "--entries",
                str(entries),
                "--participants",
                str(participants),
            ],
            cwd=ctx.repo,
            env=ctx.glucodiary_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                "bench.seed_diary failed:\n" + "\n".join(done.stderr.strip().splitlines()[-8:])
            )
        seeded = json.loads(done.stdout.strip().splitlines()[-1])
        # a file per server: two scenarios measured side by side (bench/measure.py) each keep their own
        people = ctx.scratch / f"diary_people_{seeded['tag']}.txt"
        people.write_text("".join(f"{pid} {token}\n" for pid, token in seeded["people"]))
        return SetupResult(
            headers={"Authorization": f"Bearer {seeded['token']}"},
            values={
                "participant_id": seeded["participant_id"],
                "cursor": seeded["cursor"],
                "people_file": str(people),
            },
        )

    return hook


def _glucose_entry(index: int = 0) -> dict[str, object]:
    return {
        "id": "__UUID__",
        "kind": "glucose",
        "occurred_at": f"2025-03-14T{7 + index // 60 % 12:02d}:{index % 60:02d}:00+01:00",
        "value": 5.8,
        "unit": "mmol/L",
        "context": "fasting",
        "source": "meter",
    }


# The service with its pool held at 20 connections, like the reference app's asyncpg pool (10 to 20): with the
# default 10 + 10 overflow, 32 busy connections make SQLAlchemy close and reopen overflow connections all the
# time (each reopen costs a PostgreSQL backend start and a cold prepared-statement cache).
DIARY_SERVER = ServerSpec(
    name="glucodiary serve (pool 20)",
    command=GLUCODIARY_SERVER.command,
    env=lambda ctx: {
        **ctx.glucodiary_env(),
        "GLUCODIARY_DB__POOL_SIZE": "20",
        "GLUCODIARY_DB__MAX_OVERFLOW": "0",
    },
    unavailable=_glucodiary_unavailable,
    prepare=_glucodiary_migrate,
)
DIARY_ENTRIES = "/api/v1/participants/<participant_id>/entries"
BATCH_SIZE = 1000
SCENARIOS += [
    Scenario(
        name="diary_post",
        server=DIARY_SERVER,
        description="one authenticated glucose entry (rules on), fresh UUIDs, 64 participants' phones",
        method="POST",
        path=DIARY_ENTRIES,
        body=json.dumps(_glucose_entry()),
        headers={**JSON_HEADERS, "User-Agent": "GlucodiaryApp/2.3.1"},
        setup=_diary_participant(0, participants=64),
        lua="diary_post.lua",
        expect_status=(201,),
    ),
    Scenario(
        name="diary_batch",
        server=DIARY_SERVER,
        description=f"a batch of {BATCH_SIZE} glucose entries; entries/s = req/s x {BATCH_SIZE}",
        method="POST",
        path=f"{DIARY_ENTRIES}/batch",
        body=json.dumps({"entries": [_glucose_entry(i) for i in range(BATCH_SIZE)]}),
        headers=JSON_HEADERS,
        # each phone syncs its own participant's batch (as diary_post: round-robin over their tokens); one
        # participant's writes are serialised by its feed counter, so 4 phones of ONE participant measured
        # that lock, not the batch (the server sat at 60 % CPU, waiting)
        setup=_diary_participant(0, participants=16),
        lua="diary_post.lua",
        expect_status=(200,),
        # a phone syncs one batch at a time: 4 at once keeps the server busy without queueing past wrk's timeout
        connections=4,
    ),
    Scenario(
        name="diary_list",
        server=DIARY_SERVER,
        description="the newest 100 of 5,000 entries",
        path=f"{DIARY_ENTRIES}?limit=100",
        setup=_diary_participant(5000),
    ),
    Scenario(
        name="diary_changes",
        server=DIARY_SERVER,
        description="a changes-feed page of 100 (of 5,000 entries) from the start",
        path="/api/v1/participants/<participant_id>/changes?since=<cursor>&limit=100",
        setup=_diary_participant(5000),
    ),
]
# entries per request, for the "items/s" line under the table
ITEMS_PER_REQUEST = {"diary_batch": BATCH_SIZE}
BASELINE = "baseline"
