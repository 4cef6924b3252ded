"""Runs the Alembic migrations from code (CLI, tests) without an alembic.ini, and tells readiness where the
schema stands.

Readiness (`head_revisions`, `applied_revisions`) does not import Alembic: the serving process would carry it
(about 10 MiB) only to compare two lists of revision ids. The heads are read from the migration files'
`revision` and `down_revision` assignments; tests check they equal Alembic's own answer.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text

from core.config import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "alembic"


def script_location() -> Path:
    return get_settings().migrations_dir or SCRIPT_LOCATION


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """A Config pointing at the project's migrations; `connection` runs them inside a caller's connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s"
    )
    if url:
        config.attributes["database_url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    """The newest revisions on disk: those no other migration names as its parent (read once per process:
    scripts do not change while it runs)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((script_location() / "versions").glob("*.py")):
        declared = _declared(path)
        revisions.add(declared["revision"])
        down = declared.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions - parents)


def _declared(path: Path) -> dict[str, Any]:
    """The literal `revision` and `down_revision` of one migration file."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and value is not None:
            found[target.id] = ast.literal_eval(value)
    if not isinstance(found.get("revision"), str):
        raise ValueError(f"{path.name}: no literal `revision = '...'` found")
    return found


def applied_revisions(connection: Connection) -> set[str]:
    """The revisions the database is at (empty before the first migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
