"""The migrations and the models describe the same schema, and the chain goes down to base and back up."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from core import migrations
from core.db import build_engine, metadata
from tests.conftest import create_database, drop_database


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], f"autogenerate would change the schema: {differences}"


async def test_database_is_at_every_head(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        applied = await connection.run_sync(migrations.applied_revisions)
    assert applied == migrations.head_revisions()


async def test_readiness_reads_the_schema_as_alembic_does(engine: AsyncEngine) -> None:
    # /ready answers without importing Alembic (core/migrations.py); it must agree with Alembic itself
    from alembic.script import ScriptDirectory

    alembic_heads = ScriptDirectory.from_config(migrations.alembic_config()).get_heads()
    assert migrations.head_revisions() == frozenset(alembic_heads)
    async with engine.connect() as connection:
        ours = await connection.run_sync(migrations.applied_revisions)
        theirs = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    assert ours == set(theirs) and ours
    from sqlalchemy import create_engine

    with create_engine("sqlite://").connect() as empty:  # never migrated: no alembic_version table
        assert migrations.applied_revisions(empty) == set()


def test_the_history_has_one_head() -> None:
    # two heads mean two migrations written side by side; the next one would not know its parent
    assert len(migrations.head_revisions()) == 1, sorted(migrations.head_revisions())


def test_downgrade_to_base_and_upgrade_again() -> None:
    url = create_database("updown")
    try:
        migrations.upgrade(url)
        command.downgrade(migrations.alembic_config(url), "base")
        assert asyncio.run(_tables(url)) <= {"alembic_version"}
        migrations.upgrade(url)
        assert set(metadata.tables) <= asyncio.run(_tables(url))
    finally:
        drop_database(url)


async def _tables(url: str) -> set[str]:
    engine = build_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_migration_files_are_named_by_date_and_slug() -> None:
    import re

    names = [p.name for p in (migrations.SCRIPT_LOCATION / "versions").glob("*.py")]
    assert names
    for name in names:
        assert re.fullmatch(r"\d{4}_\d{2}_\d{2}_\d{4}-[a-z0-9_]+\.py", name), name
