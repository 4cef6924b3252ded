"""Running wrk for one measurement and reading the JSON line that bench/lua/report.lua prints."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.procs import pinned

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARKER = "BENCH_RESULT "


class WrkFailed(RuntimeError):
    """wrk did not run or printed no result line."""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    requests: int
    errors: dict[str, int]  # connect, read, write, timeout, status (answers >= 400)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def run_wrk(
    *,
    url: str,
    lua: str,
    method: str,
    body_file: Path | None,
    headers: dict[str, str],
    duration_s: float,
    connections: int,
    threads: int,
    cpu: int | None,
    env: dict[str, str] | None = None,
) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_DIR / lua),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    env = {
        **os.environ,
        "BENCH_LUA_DIR": str(LUA_DIR),
        "BENCH_METHOD": method,
        "BENCH_BODY_FILE": str(body_file) if body_file else "",
        "BENCH_SEED": str(secrets.randbelow(2**31)),
        **(env or {}),  # a scenario's own (BENCH_DIARY_PEOPLE: its participants' tokens)
    }
    try:
        done = subprocess.run(
            pinned(command, cpu),
            env=env,
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WrkFailed(f"wrk did not run: {exc}") from exc
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            raw = json.loads(line[len(RESULT_MARKER) :])
            return WrkResult(
                rps=float(raw["rps"]),
                p50_us=int(raw["p50_us"]),
                p90_us=int(raw["p90_us"]),
                p99_us=int(raw["p99_us"]),
                max_us=int(raw["max_us"]),
                requests=int(raw["requests"]),
                errors={k: int(v) for k, v in raw["errors"].items()},
            )
    output = (done.stdout + done.stderr).strip().splitlines()[-10:]
    raise WrkFailed(f"wrk exited with status {done.returncode} and no result line:\n" + "\n".join(output))
