"""Runs the Alembic migrations from code (CLI, tests) without an alembic.ini, and tells readiness where the
schema stands.

Readiness (`head_revisions`, `applied_revisions`) does not import Alembic: Alembic's own ScriptDirectory was
measured in the serving process (issue 9) at 8 MiB more RSS (102 -> 110 MiB) and 117 more modules (its
autogenerate plugins load with it), only to compare two lists of revision ids. The heads are read from the
migration files' `revision` and `down_revision` assignments; tests check they equal Alembic's own answer. The
`migrate` command, which runs Alembic anyway, asks ScriptDirectory itself.
"""

from __future__ import annotations

import ast
import asyncio
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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


class UnknownRevision(ValueError):
    pass


@dataclass(frozen=True)
class Migration:
    """What `migrate` did: nothing, an upgrade, a downgrade, or a downgrade refused."""

    action: Literal["nothing", "upgraded", "downgraded", "refused"]
    before: frozenset[str]
    after: frozenset[str]
    target: str

    def describe(self) -> str:
        before, after = _names(self.before), _names(self.after)
        if self.action == "nothing":
            return f"database already at {before}: nothing to do"
        if self.action == "refused":
            return (
                f"database at {before}, which is newer than {self.target}: going there is a downgrade, which "
                "drops tables or columns and the data in them. Nothing was changed. To do it anyway, back the "
                f"database up first and run `glucodiary migrate {self.target} --allow-downgrade`."
            )
        return f"database {self.action} from {before} to {after}"


def _names(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "nothing (no migration applied)"


def current_revisions(url: str | None = None) -> frozenset[str]:
    """Where the database at `url` (default: the settings') stands."""
    from core.db import build_engine

    async def _read() -> set[str]:
        engine = build_engine(url or get_settings().database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(applied_revisions)
        finally:
            await engine.dispose()

    return frozenset(asyncio.run(_read()))


def migrate(revision: str = "heads", *, allow_downgrade: bool = False, url: str | None = None) -> Migration:
    """Bring the database to `revision`; a target older than where it stands is a downgrade, done only when
    allowed (it destroys data). Says what it did."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    try:
        wanted = script.get_heads() if revision in ("head", "heads") else script.get_revisions(revision)
    except CommandError as exc:
        raise UnknownRevision(f"no migration named {revision!r} ({exc})") from None
    target = frozenset(r if isinstance(r, str) else r.revision for r in wanted if r is not None)
    before = current_revisions(url)
    if before == target:
        return Migration("nothing", before, before, revision)
    # everything the database already carries: its revisions and all their ancestors
    carried = {r.revision for head in before for r in script.iterate_revisions(head, "base")}
    if target <= carried:
        if not allow_downgrade:
            return Migration("refused", before, before, revision)
        command.downgrade(config, revision)
        action: Literal["upgraded", "downgraded"] = "downgraded"
    else:
        command.upgrade(config, revision)
        action = "upgraded"
    return Migration(action, before, current_revisions(url), revision)


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
