"""The diary's answers, rendered here from the entries' current states (core.diary.entries.state, and the rows
core.diary.reads selects by the same names) in the shapes of api/schemas/diary.py.

Core keeps rows and each version's audit record; the wire shape is this module's alone, so a later API version
can answer differently without touching a stored row. What a route declares is what it sends: the test suite
checks every answer against /openapi.json (tests/answers.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import Response

from api.headers import etag
from api.schemas.diary import BatchPublic, ChangesPublic, EntryPage, EntryPublic, HistoryPage

# an entry's current state by column name: core.diary.entries.state, or a row core.diary.reads selected
State = Mapping[Any, Any]


def entry(state: State) -> dict[str, Any]:
    """One entry as API.md answers it: the common fields, the kind's own fields as sent, who recorded it, what
    the rules found, and a reading's canonical mg/dL (one decimal)."""
    answer = {
        "id": state["id"],
        "kind": state["kind"],
        "participant_id": state["participant_id"],
        "occurred_at": state["occurred_at"],
        "utc_offset_minutes": state["utc_offset_minutes"],
        "local_date": state["local_date"],
        "entered_at": state["entered_at"],
        "note": state["note"],
        **state["data"],
        "version": state["version"],
        "recorded_by": {
            "user_id": state["recorded_by_user_id"],
            "role": state["recorded_by_role"],
            "relationship": state["relationship"],
        },
        "received_at": state["received_at"],
        "updated_at": state["updated_at"],
        "source_app": state["source_app"],
        "source_app_version": state["source_app_version"],
        "late": state["late"],
        "run_in": state["run_in"],
        "voided": state["voided"],
        "void_reason": state["void_reason"],
        "flags": state["flags"],
        "alerts": state["alert_ids"],
    }
    if state["value_mg_dl"] is not None:
        answer["value_mg_dl"] = round(state["value_mg_dl"], 1)
    return answer


def entry_etag(state: State) -> str:
    return etag(state["id"], state["version"])


def _text(value: Any) -> str:
    """What orjson does not know: asyncpg's own UUID type (a uuid.UUID subclass) in rows read from PostgreSQL."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def respond(
    content: Any,
    schema: Any = EntryPublic,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`content` (rendered from core's states) as JSON; `schema` names what it must match. Not validated again here: tests/answers.py holds every answer of the test suite to /openapi.json, and
    validating at run time would cost a page of 100 entries about 0.7 ms more (bench/devapp.py's
    `unvalidated_answers` switch measures it on the list and the changes feed; README, Performance)."""
    body = orjson.dumps(content, default=_text, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def one(state: State, *, status_code: int = 200, with_etag: bool = False) -> Response:
    """One entry's answer (with its ETag when asked)."""
    headers = {"ETag": entry_etag(state)} if with_etag else None
    return respond(entry(state), status_code=status_code, headers=headers)


def page(states: Sequence[State], next_cursor: str | None) -> Response:
    return respond({"items": [entry(s) for s in states], "next_cursor": next_cursor}, EntryPage)


def changes(states: Sequence[State], cursor: str, has_more: bool) -> Response:
    """The changes feed: each entry at its latest state; a voided one is its tombstone."""
    found = [{"op": "void" if s["voided"] else "upsert", "entry": entry(s)} for s in states]
    return respond({"changes": found, "cursor": cursor, "has_more": has_more}, ChangesPublic)


def batch(results: list[dict[str, Any]]) -> Response:
    """Each item's result, with the entry rendered where one was stored."""
    rendered = [{**r, "entry": entry(r["entry"])} if "entry" in r else r for r in results]
    return respond({"results": rendered}, BatchPublic)


def history(versions: list[dict[str, Any]]) -> Response:
    """Every version with its audit record: the entry as it stood then, in the shape it was recorded in."""
    return respond({"items": versions, "next_cursor": None}, HistoryPage)
