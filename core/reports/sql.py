"""The reports' SQL that differs by dialect (date arithmetic, upserts), in one place.

PostgreSQL and SQLite disagree on adding months (SQLite rolls 30 Nov + 3 months over to 2 Mar, PostgreSQL
clamps to 28 Feb); the reports use PostgreSQL's clamping on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT, with on_conflict_do_nothing / on_conflict_do_update."""
    return (postgresql.insert if dialect(session) == "postgresql" else sqlite.insert)(table)
