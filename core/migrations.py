"""Runs the Alembic migrations from code (CLI, tests, readiness) without an alembic.ini."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from core.config import get_settings

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "alembic"


def script_location() -> Path:
    return get_settings().migrations_dir or SCRIPT_LOCATION


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """A Config pointing at the project's migrations; `connection` runs them inside a caller's connection."""
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
    command.upgrade(alembic_config(url), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    """The newest revisions on disk (read once per process: scripts do not change while it runs)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def applied_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())
