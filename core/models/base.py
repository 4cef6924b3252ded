"""Column helpers shared by every table: UUID keys and UTC timestamps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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
