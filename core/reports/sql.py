"""The reports' SQL that differs by dialect (date arithmetic, JSON flags), in one place.

Every function takes the dialect name (core.db.dialect_name) and returns a SQL expression; dates come back
as `date` on both backends. PostgreSQL and SQLite disagree on adding months (SQLite rolls 30 Nov + 3 months
over to 2 Mar, PostgreSQL clamps to 28 Feb): the reports clamp on both. SQLite has no time zone database, so a
withdrawal's local day is its UTC day there (PostgreSQL converts to the participant's zone).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    Integer,
    Select,
    String,
    cast,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

POSTGRESQL = "postgresql"


def add_months(name: str, day: Any, months: Any) -> ColumnElement[Any]:
    """`day` + `months` calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    if name == POSTGRESQL:
        return cast(day + func.make_interval(0, months), Date)
    plain = func.date(day, func.printf("+%d months", months))
    last_day = func.date(day, "start of month", func.printf("+%d months", months + 1), "-1 day")
    return type_coerce(func.min(plain, last_day), Date)


def minus_one_day(name: str, day: Any) -> ColumnElement[Any]:
    if name == POSTGRESQL:
        return type_coerce(type_coerce(day, Integer) - 1, Date)
    return type_coerce(func.date(day, "-1 day"), Date)


def days_between(name: str, start: Any, end: Any) -> ColumnElement[int]:
    """Whole days from `start` to `end` (end - start)."""
    if name == POSTGRESQL:
        return type_coerce(type_coerce(end, Integer) - type_coerce(start, Integer), Integer)
    return cast(func.julianday(end) - func.julianday(start), Integer)


def latest(name: str, *values: Any) -> ColumnElement[Any]:
    """The latest of dates (none may be NULL)."""
    return type_coerce((func.greatest if name == POSTGRESQL else func.max)(*values), Date)


def earliest(name: str, *values: Any) -> ColumnElement[Any]:
    return type_coerce((func.least if name == POSTGRESQL else func.min)(*values), Date)


def local_day(name: str, moment: Any, zone: Any) -> ColumnElement[Any]:
    """The calendar day of a UTC timestamp in the IANA zone `zone` (SQLite: its UTC day)."""
    if name == POSTGRESQL:
        return cast(func.timezone(zone, moment), Date)
    return type_coerce(func.date(moment), Date)


def has_flag(name: str, flags: Any, flag: str) -> ColumnElement[bool]:
    """True when the JSON array of rule flags holds `flag`."""
    if name == POSTGRESQL:
        return flags.op("@>", return_type=Boolean)(cast(literal(f'["{flag}"]'), JSONB))
    # flags are quoted tokens of a known list, none a substring of another once quoted
    return func.instr(flags, f'"{flag}"') > 0


def numbers(count: int, label: str = "frame") -> Select[Any]:
    """SELECT 1 UNION ALL SELECT 2 ... `count`: a tiny number table both backends accept."""
    return union_all(*(select(literal(n, Integer).label(label)) for n in range(1, count + 1)))  # type: ignore[return-value]


def as_date(value: Any) -> ColumnElement[Any]:
    """A bound date parameter typed as a date on both backends."""
    return literal(value, Date)


def add_days(name: str, day: Any, days: Any) -> ColumnElement[Any]:
    if name == POSTGRESQL:
        return type_coerce(type_coerce(day, Integer) + days, Date)
    return type_coerce(func.date(day, func.printf("%+d days", days)), Date)


def json_number(name: str, document: Any, key: str) -> ColumnElement[float]:
    """A number field of a JSON document column (NULL when absent)."""
    if name == POSTGRESQL:
        return cast(document.op("->>")(key), Float)
    return type_coerce(func.json_extract(document, f"$.{key}"), Float)


def json_text(name: str, document: Any, key: str) -> ColumnElement[str]:
    """A text field of a JSON document column."""
    if name == POSTGRESQL:
        return document.op("->>", return_type=String)(key)
    return type_coerce(func.json_extract(document, f"$.{key}"), String)
