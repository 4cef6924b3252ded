"""Parsing an entry: strict JSON validation with errors a person can act on (the field path, the value and what
is allowed), the canonical hash of an entry (its idempotency check) and its kind's own fields (pure)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
from pydantic import ValidationError

from core.diary.kinds import COMMON_FIELDS, ENTRY_ADAPTER, KINDS_TEXT, MODEL_BY_KIND, EntryModel
from core.errors import FieldProblem, InvalidInput


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# What is allowed, for the type errors of strict validation (pydantic's own words name no example).
_EXPECTED = {
    "float_type": "a number is required (a JSON number, not text or true/false)",
    "int_type": "a whole number is required (a JSON number, not text or true/false)",
    "int_from_float": "a whole number is required",
    "bool_type": "true or false is required",
    "string_type": "text is required",
    "datetime_type": "a time as ISO 8601 text with a UTC offset is required, e.g. 2026-03-02T07:30:00+01:00",
    "datetime_parsing": "a time as ISO 8601 text with a UTC offset is required, e.g. 2026-03-02T07:30:00+01:00",
    "datetime_from_date_parsing": (
        "a time as ISO 8601 text with a UTC offset is required, e.g. 2026-03-02T07:30:00+01:00"
    ),
    "timezone_aware": "a timezone (UTC offset) is required, e.g. 2026-03-02T07:30:00+01:00",
    "uuid_type": "a UUID as text is required",
    "uuid_parsing": "a UUID is required, e.g. 0b3c6f5e-8d1a-4a7e-9a53-1f7b2f6e9c11",
    "list_type": "a JSON list is required",
}
_OWN_MESSAGES = frozenset(
    {"out_of_range", "ends_before_start", "nul_character", "offset_out_of_range", "year_out_of_range"}
)


def problems_of(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """FieldProblems from pydantic errors: the path without the union's tag, the value and what is allowed."""
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] in MODEL_BY_KIND:
            loc = loc[1:]  # the discriminated union's tag is noise to a reader
        kind_error = err["type"] in ("union_tag_invalid", "union_tag_not_found")
        path = "kind" if kind_error else ".".join(loc)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        if kind_error:
            got = err["input"].get("kind") if isinstance(err["input"], dict) else None
            message = f"kind must be one of {KINDS_TEXT} (got {_short(got)})"
        elif err["type"] == "missing":
            message = "field required"
        elif err["type"] == "extra_forbidden":
            message = f"unknown field (got {_short(err['input'])})"
        elif err["type"] in _OWN_MESSAGES:
            message = err["msg"]
        elif err["type"] in ("model_attributes_type", "model_type", "dict_type"):
            message = f"an entry must be a JSON object (got {_short(err['input'])})"
        elif err["type"] in _EXPECTED:
            message = f"{_EXPECTED[err['type']]} (got {_short(err['input'])})"
        else:
            message = f"{err['msg']} (got {_short(err['input'])})"
        fields.append(FieldProblem(path or "body", message))
    return fields


def invalid(fields: list[FieldProblem]) -> InvalidInput:
    summary = "; ".join(f"{f.path}: {f.message}" for f in fields[:3])
    return InvalidInput(f"The entry is not valid: {summary}", fields=fields)


def _as_json(raw: Any, prefix: str) -> bytes:
    """The entry as JSON text: validating JSON (not Python objects) keeps JSON's types strict and lets UUIDs
    and times arrive as the strings JSON carries them in."""
    try:
        return orjson.dumps(raw)
    except (
        TypeError
    ) as exc:  # pragma: no cover - bodies come from orjson.loads; only code can pass other objects
        raise invalid([FieldProblem(prefix or "body", f"not representable as JSON: {exc}")]) from None


def parse_entry(raw: Any, prefix: str = "") -> EntryModel:
    """One entry of any kind, validated; InvalidInput naming each bad field otherwise."""
    try:
        return ENTRY_ADAPTER.validate_json(_as_json(raw, prefix))  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise invalid(problems_of(exc, prefix)) from None


def parse_kind(kind: str, raw: dict[str, Any]) -> EntryModel:
    """Re-validate a merged edit as its (unchangeable) kind."""
    try:
        return MODEL_BY_KIND[kind].model_validate_json(_as_json(raw, ""))
    except ValidationError as exc:
        raise invalid(problems_of(exc)) from None


def canonical_hash(entry: EntryModel) -> str:
    """sha256 of the entry's canonical JSON: the same entry sent twice, in any key order, hashes the same."""
    document = entry.model_dump(mode="json")
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def kind_data(entry: EntryModel) -> dict[str, Any]:
    """The kind's own fields (API.md names), JSON-ready, for the entry's `data` column."""
    return entry.model_dump(mode="json", exclude=set(COMMON_FIELDS))
