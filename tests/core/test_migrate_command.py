"""`glucodiary migrate` says what it did: upgraded from where to where, nothing to do, or a downgrade it refuses
without --allow-downgrade (issue 13: `migrate 0005_rules` at head printed "database at 0005_rules")."""

from __future__ import annotations

from pathlib import Path

from core import migrations
from tests.core.test_cli import _run


def test_migrate_says_what_it_did_and_refuses_a_silent_downgrade(tmp_path: Path) -> None:
    (head,) = migrations.head_revisions()
    first = _run(["migrate"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"database upgraded from nothing (no migration applied) to {head}" in first.stdout

    again = _run(["migrate"], tmp_path)
    assert again.returncode == 0 and f"database already at {head}: nothing to do" in again.stdout

    back = _run(["migrate", "0005_rules"], tmp_path)
    assert back.returncode == 1
    assert f"database at {head}, which is newer than 0005_rules" in back.stderr
    assert "Nothing was changed" in back.stderr and "--allow-downgrade" in back.stderr
    still = _run(["migrate"], tmp_path)
    assert "nothing to do" in still.stdout  # the refusal changed nothing

    down = _run(["migrate", "0005_rules", "--allow-downgrade"], tmp_path)
    assert down.returncode == 0, down.stderr
    # Alembic leaves the other branch (0003_auth, merged at 0006_join) in place, and the command says so
    assert f"database downgraded from {head} to 0003_auth, 0005_rules" in down.stdout

    up = _run(["migrate"], tmp_path)
    assert up.returncode == 0 and f"database upgraded from 0003_auth, 0005_rules to {head}" in up.stdout


def test_an_unknown_revision_is_named(tmp_path: Path) -> None:
    answer = _run(["migrate", "0099_nothing"], tmp_path)
    assert answer.returncode == 2 and "no migration named '0099_nothing'" in answer.stderr
