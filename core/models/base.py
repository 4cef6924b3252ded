"""Column helpers shared by every table: UUID keys, UTC timestamps and enum-checked text."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum
from sqlmodel import Field

from core import clock
from core.db import UTCDateTime


def uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def utc_column(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A timezone-aware UTC `*_at` column; `default_now` stamps it from core.clock."""
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default_now:
        kwargs["default_factory"] = clock.now
    elif nullable:
        kwargs["default"] = None
    return Field(**kwargs)


def created_at() -> datetime:
    return utc_column(default_now=True)


def enum_column(enum: type[StrEnum], name: str, *, length: int, nullable: bool = False, **field: Any) -> Any:
    """A column holding one value of `enum`: VARCHAR(length) with a CHECK listing the values (named
    ck_<table>_<name>; on SQLite, where a CHECK cannot be added to a table, migration 0018 adds triggers doing
    the same), read back as the enum member."""
    column_type = Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
    return Field(sa_type=column_type, nullable=nullable, **field)
