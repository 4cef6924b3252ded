"""Keyset pagination for every list: opaque cursors, the "after this row" condition and a page of N + 1 rows.

A list names its order as `SortKey`s (any column or expression, each ascending or descending, the last one
unique, e.g. the id); `paginate` orders by them, reads one row more than the page to know whether another page
follows, and encodes the last row's keys as the next cursor. A cursor is opaque to clients: base64url of the
key values as JSON, so a list can change its keys without clients parsing anything.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from core.errors import FieldProblem, InvalidInput

T = TypeVar("T")

_VERSION = "k1"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    """One key of a list's order: a column or SQL expression, the Python type of its values, the direction."""

    column: Any
    python_type: type
    descending: bool = False


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


_PARSERS: dict[type, Callable[[Any], Any]] = {
    datetime: lambda v: datetime.fromisoformat(v),
    date: lambda v: date.fromisoformat(v),
    uuid.UUID: lambda v: uuid.UUID(hex=v),
    int: lambda v: v if isinstance(v, int) and not isinstance(v, bool) else int(v),
    str: lambda v: v if isinstance(v, str) else str(v),
    float: float,
}


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor holding `values` (datetimes, dates, UUIDs, numbers, strings)."""
    raw = orjson.dumps([_VERSION, *(_text(v) for v in values)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def malformed(cursor: str, path: str) -> InvalidInput:
    shown = cursor if len(cursor) <= 40 else cursor[:37] + "..."
    return InvalidInput(
        f"The {path} {shown!r} is not a cursor this service gave out.",
        fields=[FieldProblem(path, f"malformed cursor {shown!r}: use a value from an earlier answer")],
    )


def decode_cursor(cursor: str, types: Sequence[type], path: str = "cursor") -> tuple[Any, ...]:
    """The values of a cursor from `encode_cursor`, typed as `types`; anything else is a 422 naming `path`."""
    try:
        document = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(document, list) or document[:1] != [_VERSION] or len(document) != len(types) + 1:
            raise ValueError(cursor)
        values = tuple(_PARSERS[kind](value) for kind, value in zip(types, document[1:], strict=True))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError, KeyError, AttributeError):
        raise malformed(cursor, path) from None
    if any(isinstance(v, datetime) and v.tzinfo is None for v in values):
        raise malformed(cursor, path)
    return values


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose keys are `values`, in the order `keys` define (mixed directions too)."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def ordered(keys: Sequence[SortKey]) -> list[Any]:
    return [k.column.desc() if k.descending else k.column.asc() for k in keys]


async def paginate(
    session: AsyncSession,
    query: Any,  # a select (SQLAlchemy's or SQLModel's)
    *,
    keys: Sequence[SortKey],
    limit: int,
    cursor: str | None,
    path: str = "cursor",
) -> Page[tuple[Any, ...]]:
    """One page of `query` in the order of `keys`, after `cursor`: each item is the row's selected values."""
    if cursor:
        query = query.where(after(keys, decode_cursor(cursor, [k.python_type for k in keys], path)))
    width = len(query.column_descriptions)  # an ORM entity is one value of a row, however many columns
    query = query.add_columns(*(k.column for k in keys)).order_by(*ordered(keys)).limit(limit + 1)
    rows = (await session.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(tuple(rows[-1][width:])) if more and rows else None
    return Page([tuple(row[:width]) for row in rows], next_cursor)
