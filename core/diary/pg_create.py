"""PostgreSQL's fast paths of the diary's writes; SQLite (in-process, no round trips) takes the plain ones.

`create`: a new entry in one round trip: one statement of data-modifying CTEs bumps the participant's feed
counter (taking its row lock until commit), inserts the entry unless its id exists, and, only when it was
inserted, its glucose row and its first version.

`insert_many`: a batch's rows of one table straight through asyncpg's executemany, in the session's
transaction: SQLAlchemy's per-row parameter building and type processing were a quarter of a 1,000-entry
batch's CPU (py-spy).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.diary import DiaryEntry, DiaryEntryVersion, GlucoseReading

_ENTRY: Table = DiaryEntry.__table__  # type: ignore[attr-defined]
_GLUCOSE: Table = GlucoseReading.__table__  # type: ignore[attr-defined]
_VERSION: Table = DiaryEntryVersion.__table__  # type: ignore[attr-defined]


def _select_list(table: Table, prefix: str, skip: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    dialect = postgresql.dialect()
    names, casts = [], []
    for column in table.columns:
        if column.name in skip:
            continue
        names.append(column.name)
        casts.append(f"CAST(:{prefix}{column.name} AS {column.type.compile(dialect=dialect)})")
    return names, casts


@lru_cache(maxsize=32)
def statement(with_glucose: bool, extra_columns: str = "") -> TextClause:
    """`extra_columns`: more columns for the final SELECT (the rules' lookups: rule_lookups.prefetch)."""
    # Built once from the tables' own column names and types; values always travel as bound parameters.
    entry_names, entry_casts = _select_list(_ENTRY, "e_", skip=("change_seq",))
    version_names, version_casts = _select_list(_VERSION, "v_")
    parts = [
        "WITH seq AS (INSERT INTO diary_sequence (participant_id, last_change_seq)"
        " VALUES (CAST(:e_participant_id AS UUID), 1) ON CONFLICT (participant_id)"
        " DO UPDATE SET last_change_seq = diary_sequence.last_change_seq + 1 RETURNING last_change_seq)",
        f", entry AS (INSERT INTO diary_entry ({', '.join(entry_names)}, change_seq)"  # noqa: S608
        f" SELECT {', '.join(entry_casts)}, seq.last_change_seq FROM seq"
        " ON CONFLICT (id) DO NOTHING RETURNING id, change_seq)",
        f", version AS (INSERT INTO diary_entry_version ({', '.join(version_names)})"  # noqa: S608
        f" SELECT {', '.join(version_casts)} FROM entry)",
    ]
    if with_glucose:
        glucose_names, glucose_casts = _select_list(_GLUCOSE, "g_")
        parts.append(
            f", reading AS (INSERT INTO glucose_reading ({', '.join(glucose_names)})"  # noqa: S608
            f" SELECT {', '.join(glucose_casts)} FROM entry)"
        )
    # extra_columns is SQL compiled from our own statements (never user input); values stay bound parameters
    parts.append(f" SELECT id, change_seq{', ' + extra_columns if extra_columns else ''} FROM entry")  # noqa: S608
    return text("".join(parts))


def _params(table: Table, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    params = {}
    for column in table.columns:
        if column.name not in values:
            continue
        value = values[column.name]
        if _is_json(column):
            value = orjson.dumps(value).decode()
        params[f"{prefix}{column.name}"] = value
    return params


async def create(
    session: AsyncSession,
    entry_values: dict[str, Any],
    version_values: dict[str, Any],
    glucose_values: dict[str, Any] | None,
    extra: tuple[str, dict[str, Any]] | None = None,
) -> tuple[Any, ...] | None:
    """(id, change_seq, *the extra columns) of the inserted entry, or None when its id already exists.

    `extra`: (columns, their parameters) read in the same statement. They see the database as the statement
    began: a meal committed by a request of the same participant while this one waited for the counter lock
    is not among them (the meal's own write then judges this reading again: rejudge_near_meal).
    """
    params = _params(_ENTRY, "e_", {k: v for k, v in entry_values.items() if k != "change_seq"})
    params.update(_params(_VERSION, "v_", version_values))
    if glucose_values is not None:
        params.update(_params(_GLUCOSE, "g_", glucose_values))
    columns = ""
    if extra is not None:
        columns, extra_params = extra
        params.update(extra_params)
    row = (await session.execute(statement(glucose_values is not None, columns), params)).first()
    return tuple(row) if row else None


def _is_json(column: Any) -> bool:
    return isinstance(column.type, JSON) or "JSON" in type(column.type).__name__.upper()


@lru_cache(maxsize=16)
def _insert_sql(table: Table, names: tuple[str, ...]) -> tuple[str, tuple[bool, ...]]:
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608
    return sql, tuple(_is_json(table.c[name]) for name in names)


async def insert_many(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys, values as the ORM would bind them) into `table`, in the
    session's transaction; a constraint violation raises SQLAlchemy's IntegrityError, as session.execute would.
    """
    if not rows:
        return
    names = tuple(column.name for column in table.columns if column.name in rows[0])
    sql, json_columns = _insert_sql(table, names)
    records = [
        tuple(
            orjson.dumps(row[name]).decode() if is_json and row[name] is not None else row[name]
            for name, is_json in zip(names, json_columns, strict=True)
        )
        for row in rows
    ]
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        await driver.executemany(sql, records)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, None, exc) from exc
