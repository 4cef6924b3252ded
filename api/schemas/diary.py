"""Request and response bodies of the diary: entries of every kind, batches, history and the changes feed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.openapi import add_components
from api.schemas.auth import UserRef
from api.schemas.pages import Page
from core.config import get_settings
from core.diary.kinds import COMMON_FIELDS, ENTRY_ADAPTER, MODEL_BY_KIND
from core.models.diary import VersionOp

ENTRY_IN = "EntryIn"  # the component naming the union of every kind's input schema


def entry_input_schemas() -> dict[str, Any]:
    """Named OpenAPI components for the entry a phone sends: one `<Kind>EntryIn` per kind and `EntryIn`, their
    union with a discriminator on `kind`. The diary routes read bodies themselves (each batch item is validated
    on its own), so these are added to the document by api/openapi.py rather than inferred by FastAPI."""
    schema = ENTRY_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components[ENTRY_IN] = schema
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def entry_body() -> dict[str, Any]:
    return request_body(_ref(ENTRY_IN))


def batch_body() -> dict[str, Any]:
    return request_body(_ref("EntryBatchIn"))


def batch_input_schema() -> dict[str, Any]:
    return {
        "EntryBatchIn": {
            "title": "EntryBatchIn",
            "type": "object",
            "required": ["entries"],
            "additionalProperties": False,
            "properties": {
                "entries": {
                    "type": "array",
                    "items": _ref(ENTRY_IN),
                    "minItems": 1,
                    "maxItems": get_settings().diary.batch_max_entries,
                    "description": "each entry is validated on its own: one bad item never loses the others",
                }
            },
        }
    }


def update_body() -> dict[str, Any]:
    return request_body(_ref("EntryUpdate"))


def add_entry_schemas(document: dict[str, Any]) -> None:
    """api/openapi.py step: the entry input components the diary routes refer to."""
    update = EntryUpdate.model_json_schema(ref_template="#/components/schemas/{model}")
    add_components(document, {**entry_input_schemas(), **batch_input_schema(), "EntryUpdate": update})


class RecordedBy(BaseModel):
    user_id: uuid.UUID
    role: str
    relationship: str = Field(description="self, the guardian's relationship, or the staff role")


class EntryPublicBase(BaseModel):
    """The fields every entry answers, whatever its kind (API.md): who, when, which version, what the rules
    found."""

    id: uuid.UUID
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
    run_in: bool = Field(
        default=False,
        description="a run-in day before enrolment (the baseline before day 0), entered retrospectively by staff",
    )
    voided: bool
    void_reason: str | None
    flags: list[str]
    alerts: list[uuid.UUID]


def _public_model(kind: str, model_in: type[BaseModel]) -> type[BaseModel]:
    """`<Kind>Entry`: the common answer fields plus the kind's own fields as the phone sent them."""
    fields: dict[str, Any] = {"kind": (Literal[kind], ...)}  # type: ignore[valid-type]
    for name, info in model_in.model_fields.items():
        if name in COMMON_FIELDS:
            continue
        default = ... if info.is_required() else None
        fields[name] = (info.annotation, Field(default=default, description=info.description))
    if kind == "glucose":
        fields["value_mg_dl"] = (float, Field(description="canonical mg/dL (value x the protocol's factor)"))
    name = "".join(part.title() for part in kind.split("_")) + "Entry"
    return create_model(name, __base__=EntryPublicBase, __doc__=f"A {kind} entry as answered.", **fields)


PUBLIC_BY_KIND = {kind: _public_model(kind, model) for kind, model in MODEL_BY_KIND.items()}
if TYPE_CHECKING:
    EntryPublic = EntryPublicBase
else:
    # An entry as answered: one named schema per kind, told apart by `kind` (generated clients get typed fields).
    EntryPublic = Annotated[Union[tuple(PUBLIC_BY_KIND.values())], Field(discriminator="kind")]  # noqa: UP007


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


class EntryVersionPublic(BaseModel):
    version: int
    op: VersionOp
    changed_by: UserRef
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
