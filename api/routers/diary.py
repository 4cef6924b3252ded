"""Diary routes: create (one or a batch), list, read with ETag, edit, void, history and the changes feed.

Entry bodies are read as JSON here and validated in core (one kind at a time, each batch item on its own),
so an error names the path a person can fix ("value", "entries.3.value") and one bad item never fails a batch.
Core answers entries' current states; api/diary_answers.py renders them through the schemas.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from api import diary_answers as answers
from api import headers
from api.deps import ActorDep, ParticipantInScope, ParticipantWritable, SessionDep
from api.errors import responses
from api.schemas.diary import (
    BatchPublic,
    ChangesPublic,
    EntryPage,
    EntryPublic,
    HistoryPage,
    batch_body,
    entry_body,
    update_body,
)
from core.diary import batch as diary_batch
from core.diary import reads as diary_reads
from core.diary import service as diary_service
from core.diary.kinds import Kind
from core.errors import FieldProblem, InvalidInput

router = APIRouter(prefix="/participants/{participant_id}", tags=["diary"])

ETAG_HEADER = {
    "ETag": {
        "description": 'the entry\'s version as a weak entity tag, W/"<id>-v<version>": send it as If-Match '
        "to edit or void exactly this version, or as If-None-Match to be told 304 when nothing changed",
        "schema": {"type": "string"},
    }
}

ClientApp = Annotated[
    str | None,
    Header(
        alias="user-agent",
        description="the app and its version as the first product token, e.g. `GlucodiaryApp/2.3.1 (Android 14)`",
    ),
]


async def _body(request: Request) -> Any:
    """The JSON body (api/middleware.py answers 415 for any other media type before the route runs)."""
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}]
        ) from None


def _object(document: Any, what: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        message = f"{what} must be a JSON object (got {type(document).__name__})"
        raise InvalidInput(f"The request is not valid: {message}.", fields=[FieldProblem("body", message)])
    return document


@router.post(
    "/entries",
    operation_id="createEntry",
    status_code=201,
    response_model=EntryPublic,
    responses={
        200: {"model": EntryPublic, "description": "the same id and body again: the stored entry"},
        **responses(400, 401, 403, 404, 409, 413, 422),
    },
    openapi_extra=entry_body(),
)
async def create_entry(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    participant: ParticipantWritable,
    user_agent: ClientApp = None,
) -> Response:
    """Record one entry; posting the same id and body again answers 200 with the stored entry."""
    entry, created = await diary_service.record_entry(
        session=session,
        actor=actor,
        participant=participant,
        entry_in=await _body(request),
        source=headers.source_app(user_agent),
    )
    return answers.one(entry, status_code=201 if created else 200)


@router.post(
    "/entries/batch",
    operation_id="createEntries",
    response_model=BatchPublic,
    responses=responses(400, 401, 403, 404, 413, 422),
    openapi_extra=batch_body(),
)
async def create_entries(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    participant: ParticipantWritable,
    user_agent: ClientApp = None,
) -> Response:
    """Record many entries (an offline phone syncing); each item gets its own created/duplicate/rejected."""
    document = _object(await _body(request), "the batch")
    extra = sorted(set(document) - {"entries"})
    items = document.get("entries")
    if extra or not isinstance(items, list):
        fields = [FieldProblem(name, f"unknown field (got {document[name]!r:.60})") for name in extra]
        if not isinstance(items, list):
            fields.append(FieldProblem("entries", f"a list of entries is required (got {items!r:.60})"))
        raise InvalidInput('The batch is not valid: it is {"entries": [...]}.', fields=fields)
    results = await diary_batch.record_batch(
        session=session,
        actor=actor,
        participant=participant,
        entries_in=items,
        source=headers.source_app(user_agent),
    )
    return answers.batch(results)


@router.get(
    "/entries", operation_id="listEntries", response_model=EntryPage, responses=responses(401, 404, 422)
)
async def list_entries(
    session: SessionDep,
    participant: ParticipantInScope,
    kind: Kind | None = None,
    occurred_from: Annotated[
        datetime | None, Query(alias="from", description="occurred at or after (with an offset)")
    ] = None,
    occurred_to: Annotated[datetime | None, Query(alias="to", description="occurred before")] = None,
    include_voided: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The participant's entries, newest first."""
    for name, moment in (("from", occurred_from), ("to", occurred_to)):
        if moment is not None and moment.tzinfo is None:
            message = f"a time with a UTC offset is required (got {moment.isoformat()})"
            raise InvalidInput(
                f"The query is not valid: {name} {message}.", fields=[FieldProblem(name, message)]
            )
    page = await diary_reads.list_entries(
        session=session,
        participant=participant,
        kind=kind.value if kind else None,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        include_voided=include_voided,
        limit=limit,
        cursor=cursor,
    )
    return answers.page(page.items, page.next_cursor)


@router.get(
    "/entries/{entry_id}",
    operation_id="getEntry",
    response_model=EntryPublic,
    responses={
        200: {"description": "the current version", "headers": ETAG_HEADER},
        304: {"description": "If-None-Match names the current version", "headers": ETAG_HEADER},
        **responses(401, 404),
    },
)
async def get_entry(
    entry_id: uuid.UUID,
    session: SessionDep,
    participant: ParticipantInScope,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The current version of an entry, with its ETag."""
    state = await diary_reads.get_entry(session=session, participant=participant, entry_id=entry_id)
    etag = answers.entry_etag(state)
    if headers.none_match(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return answers.one(state, with_etag=True)


@router.patch(
    "/entries/{entry_id}",
    response_model=EntryPublic,
    operation_id="editEntry",
    responses={
        200: {"description": "the new version", "headers": ETAG_HEADER},
        **responses(400, 401, 403, 404, 409, 412, 422),
    },
    openapi_extra=update_body(),
)
async def edit_entry(
    entry_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    participant: ParticipantWritable,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A new version with the changed fields and a reason; a stale version changes nothing (409, or 412)."""
    entry = await diary_service.edit_entry(
        session=session,
        actor=actor,
        participant=participant,
        entry_id=entry_id,
        changes=_object(await _body(request), "the change"),
        if_match=headers.if_match_version(if_match),
    )
    return answers.one(entry, with_etag=True)


@router.delete(
    "/entries/{entry_id}",
    operation_id="voidEntry",
    response_model=EntryPublic,
    responses=responses(401, 403, 404, 409, 412, 422),
)
async def void_entry(
    entry_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    participant: ParticipantWritable,
    reason: Annotated[str, Query(min_length=1, max_length=2000, description="why the entry is voided")],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Void the entry with a reason; it stays readable in the history."""
    entry = await diary_service.void_entry(
        session=session,
        actor=actor,
        participant=participant,
        entry_id=entry_id,
        reason=reason,
        if_match=headers.if_match_version(if_match),
    )
    return answers.one(entry)


@router.get(
    "/entries/{entry_id}/history",
    operation_id="getEntryHistory",
    response_model=HistoryPage,
    responses=responses(401, 404),
)
async def entry_history(
    entry_id: uuid.UUID, session: SessionDep, participant: ParticipantInScope
) -> Response:
    """Every version of the entry, oldest first, with who changed it, when and why."""
    versions = await diary_reads.history(session=session, participant=participant, entry_id=entry_id)
    return answers.history(versions)


@router.get(
    "/changes", operation_id="listChanges", response_model=ChangesPublic, responses=responses(401, 404, 422)
)
async def changes(
    session: SessionDep,
    participant: ParticipantInScope,
    since: Annotated[
        str | None,
        Query(max_length=200, description="a cursor from an earlier answer; 0 or none: from the start"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """Every write since the cursor (creates, edits, voids as tombstones), in commit order."""
    found, cursor, has_more = await diary_reads.changes(
        session=session, participant=participant, since=since, limit=limit
    )
    return answers.changes(found, cursor, has_more)
