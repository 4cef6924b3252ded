"""PostgreSQL's fast paths of the diary's writes; SQLite (in-process, no round trips) takes the plain ones.

`create`: a new entry in one round trip: one statement of data-modifying CTEs bumps the participant's feed
counter (taking its row lock until commit), inserts the entry unless its id exists, and, only when it was
inserted, its glucose row and its first version.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
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


@lru_cache(maxsize=2)
def statement(with_glucose: bool) -> Select[Any]:
    """Built once per shape, from the tables themselves; values always travel as bound parameters."""
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
    return select(entry.c.id, entry.c.change_seq).select_from(entry).add_cte(*followers)


def _params(table: Table, prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}{column.name}": values[column.name] for column in table.columns if column.name in values
    }


async def create(
    session: AsyncSession,
    entry_values: dict[str, Any],
    version_values: dict[str, Any],
    glucose_values: dict[str, Any] | None,
) -> tuple[Any, ...] | None:
    """(id, change_seq) of the inserted entry, or None when its id already exists."""
    params = _params(_ENTRY, "e_", {k: v for k, v in entry_values.items() if k != "change_seq"})
    params.update(_params(_VERSION, "v_", version_values))
    if glucose_values is not None:
        params.update(_params(_GLUCOSE, "g_", glucose_values))
    row = (await session.execute(statement(glucose_values is not None), params)).first()
    return tuple(row) if row else None
