"""The `glucodiary` command as a newcomer uses it, in a real subprocess against a fresh SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(args: list[str], data_dir: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "GLUCODIARY_DATA_DIR": str(data_dir), **env}
    environment.pop("GLUCODIARY_DB__URL", None)
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_migrate_demo_and_admin_create(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    assert (tmp_path / "glucodiary.db").exists()

    first = _run(["demo"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "admin@demo.glucodiary.test" in first.stdout
    again = _run(["demo"], tmp_path)
    assert again.returncode == 0 and "already present" in again.stdout

    weak = _run(
        ["admin", "create", "--email", "ops@example.org", "--password-stdin"], tmp_path, "password1234\n"
    )
    assert weak.returncode == 1 and "too easy to guess" in weak.stderr
    made = _run(
        ["admin", "create", "--email", "Ops@Example.org", "--password-stdin"],
        tmp_path,
        "Violet-Harbour-Kettle-88\n",
    )
    assert made.returncode == 0, made.stderr
    twice = _run(
        ["admin", "create", "--email", "ops@example.org", "--password-stdin"],
        tmp_path,
        "Violet-Harbour-Kettle-88\n",
    )
    assert twice.returncode == 1 and "already exists" in twice.stderr


def test_production_without_secret_says_so_in_one_line(tmp_path: Path) -> None:
    result = _run(["migrate"], tmp_path, GLUCODIARY_ENV="production", GLUCODIARY_SECURITY__JWT_SECRET="")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "GLUCODIARY_SECURITY__JWT_SECRET" in result.stderr
