"""The one list answer of API.md, `{items, next_cursor}`: subclass `Page[XPublic]` as `XPage` so OpenAPI and
generated clients get one short, named schema per list."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
