"""PostgreSQL's fast paths of the diary's writes; SQLite (in-process, no round trips) takes the plain ones.

`create`: a new entry in one round trip: one statement of data-modifying CTEs bumps the participant's feed
counter (taking its row lock until commit), inserts the entry unless its id exists, and, only when it was
inserted, its glucose row and its first version.

`insert_many`: a batch's rows of one table straight through asyncpg's executemany, in the session's
transaction: SQLAlchemy's per-row parameter building and type processing were a quarter of a 1,000-entry
batch's CPU (py-spy).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, ColumnElement, Select, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.diary import DiaryEntry, DiaryEntryVersion, DiarySequence, GlucoseReading

_ENTRY: Table = DiaryEntry.__table__  # type: ignore[attr-defined]
_GLUCOSE: Table = GlucoseReading.__table__  # type: ignore[attr-defined]
_VERSION: Table = DiaryEntryVersion.__table__  # type: ignore[attr-defined]
_SEQUENCE: Table = DiarySequence.__table__  # type: ignore[attr-defined]


def _values(table: Table, prefix: str, skip: tuple[str, ...] = ()) -> tuple[list[str], list[Any]]:
    """The table's column names and a bound parameter for each (`prefix` + name, typed as the column)."""
    names = [column.name for column in table.columns if column.name not in skip]
    return names, [bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in names]


@lru_cache(maxsize=32)
def statement(with_glucose: bool, extra_columns: tuple[ColumnElement[Any], ...] = ()) -> Select[Any]:
    """Built once per shape, from the tables themselves; values always travel as bound parameters.
    `extra_columns`: more columns for the final SELECT (the rules' lookups: core.rules.lookups.prefetch)."""
    sequence = (
        pg_insert(_SEQUENCE)
        .values(participant_id=bindparam("e_participant_id", type_=_SEQUENCE.c.participant_id.type))
        .values(last_change_seq=1)
        .on_conflict_do_update(
            index_elements=[_SEQUENCE.c.participant_id],
            set_={"last_change_seq": _SEQUENCE.c.last_change_seq + 1},
        )
        .returning(_SEQUENCE.c.last_change_seq)
        .cte("seq")
    )
    entry_names, entry_values = _values(_ENTRY, "e_", skip=("change_seq",))
    entry = (
        pg_insert(_ENTRY)
        .from_select([*entry_names, "change_seq"], select(*entry_values, sequence.c.last_change_seq))
        .on_conflict_do_nothing(index_elements=[_ENTRY.c.id])
        .returning(_ENTRY.c.id, _ENTRY.c.change_seq)
        .cte("entry")
    )
    # each insert below selects FROM entry: it happens only when the entry was inserted
    rows = [(_VERSION, "v_", "version")] + ([(_GLUCOSE, "g_", "reading")] if with_glucose else [])
    followers = []
    for table, prefix, name in rows:
        names, values = _values(table, prefix)
        followers.append(insert(table).from_select(names, select(*values).select_from(entry)).cte(name))
    return select(entry.c.id, entry.c.change_seq, *extra_columns).select_from(entry).add_cte(*followers)


def _params(table: Table, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}{column.name}": values[column.name] for column in table.columns if column.name in values
    }


async def create(
    session: AsyncSession,
    entry_values: dict[str, Any],
    version_values: dict[str, Any],
    glucose_values: dict[str, Any] | None,
    extra: tuple[Sequence[ColumnElement[Any]], dict[str, Any]] | None = None,
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
    columns: tuple[ColumnElement[Any], ...] = ()
    if extra is not None:
        columns = tuple(extra[0])
        params.update(extra[1])
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
