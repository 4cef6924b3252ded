"""Request and response bodies of the diary: entries of every kind, batches, history and the changes feed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.diary.kinds import ENTRY_ADAPTER

EntryCreate = ENTRY_ADAPTER  # the discriminated union of every kind (core.diary.kinds), validated in core


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with its local `$defs` references written out (OpenAPI has no `$defs` in a request body)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def entry_create_schema() -> dict[str, Any]:
    schema = ENTRY_ADAPTER.json_schema()
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    inlined.pop("discriminator", None)  # its mapping points at $defs
    return inlined


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself (and validates items one by one)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def batch_create_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["entries"],
        "additionalProperties": False,
        "properties": {
            "entries": {
                "type": "array",
                "items": entry_create_schema(),
                "description": "up to settings.diary.batch_max_entries entries; each is validated on its own",
            }
        },
    }


class RecordedBy(BaseModel):
    user_id: uuid.UUID
    role: str
    relationship: str = Field(description="self, the guardian's relationship, or the staff role")


class EntryPublic(BaseModel):
    """An entry as answered: the common fields below plus the kind's own fields (API.md), flat."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    kind: str
    participant_id: uuid.UUID
    occurred_at: datetime
    utc_offset_minutes: int = Field(description="the participant's UTC offset when it happened")
    local_date: date = Field(description="local: the participant's calendar day of occurred_at")
    entered_at: datetime | None
    note: str | None
    version: int
    recorded_by: RecordedBy
    received_at: datetime
    updated_at: datetime
    source_app: str | None
    source_app_version: str | None
    late: bool
    voided: bool
    void_reason: str | None
    flags: list[str]
    alerts: list[uuid.UUID]
    value_mg_dl: float | None = Field(default=None, description="glucose only: canonical mg/dL")


class EntryUpdate(BaseModel):
    """`version` (or If-Match) and `reason`, plus any of the kind's fields to change."""

    model_config = ConfigDict(extra="allow")

    version: int | None = Field(default=None, ge=1)
    reason: str = Field(min_length=1, max_length=2000)


class EntryPage(Page[EntryPublic]):
    """A page of entries, newest first."""


class BatchError(BaseModel):
    error: str
    detail: str
    fields: list[dict[str, str]] | None = None


class BatchResult(BaseModel):
    index: int
    id: str | None
    status: Literal["created", "duplicate", "rejected"]
    entry: EntryPublic | None = None
    error: BatchError | None = None


class BatchPublic(BaseModel):
    results: list[BatchResult]


class ChangedBy(BaseModel):
    user_id: uuid.UUID
    role: str


class EntryVersionPublic(BaseModel):
    version: int
    op: Literal["create", "edit", "void", "rejudge"]
    changed_by: ChangedBy
    changed_at: datetime
    reason: str | None
    entry: EntryPublic = Field(description="the entry as it was answered at this version")


class HistoryPage(Page[EntryVersionPublic]):
    """Every version of an entry, oldest first (one page: an entry has few versions)."""


class Change(BaseModel):
    op: Literal["upsert", "void"]
    entry: EntryPublic


class ChangesPublic(BaseModel):
    changes: list[Change]
    cursor: str = Field(description="pass as `since` next time")
    has_more: bool = Field(description="more changes wait: ask again with `cursor` right away")
