"""Diary reads: one entry, its history (every version's audit record), the list and the changes feed.

Entries come as their current state by column name (core.diary.entries.STATE_COLUMNS, with a reading's
canonical mg/dL from its glucose row): api/ renders the answers."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.diary import entries
from core.errors import NotFound
from core.models.diary import DiaryEntry, DiaryEntryVersion, GlucoseReading
from core.models.study import Participant
from core.pagination import Page, SortKey, decode_cursor, encode_cursor, malformed, paginate

NEWEST_FIRST = (
    SortKey(col(DiaryEntry.occurred_at), datetime, descending=True),
    SortKey(col(DiaryEntry.id), uuid.UUID, descending=True),
)


_ENTRY = DiaryEntry.__table__  # type: ignore[attr-defined]
_GLUCOSE = GlucoseReading.__table__  # type: ignore[attr-defined]


_STATE_NAMES = (*entries.STATE_COLUMNS, "value_mg_dl")


def _states() -> Select[Any]:
    """The entries' current states (a reading's value_mg_dl from its glucose row, NULL for other kinds)."""
    columns = [_ENTRY.c[name] for name in entries.STATE_COLUMNS]
    return select(*columns, _GLUCOSE.c.value_mg_dl).select_from(  # type: ignore[call-overload]
        _ENTRY.outerjoin(_GLUCOSE, _GLUCOSE.c.entry_id == _ENTRY.c.id)
    )


async def entry_of(*, session: AsyncSession, participant: Participant, entry_id: uuid.UUID) -> DiaryEntry:
    result = await session.execute(
        select(DiaryEntry).where(
            col(DiaryEntry.id) == entry_id, col(DiaryEntry.participant_id) == participant.id
        )
    )
    row = result.scalar_one_or_none()
    if row is None:
        raise NotFound(f"The participant has no diary entry {entry_id}.")
    return row


async def get_entry(*, session: AsyncSession, participant: Participant, entry_id: uuid.UUID) -> RowMapping:
    """The current state of one entry."""
    result = await session.execute(
        _states().where(_ENTRY.c.id == entry_id, _ENTRY.c.participant_id == participant.id)
    )
    found = result.mappings().first()
    if found is None:
        raise NotFound(f"The participant has no diary entry {entry_id}.")
    return found


async def history(
    *, session: AsyncSession, participant: Participant, entry_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every version of an entry, oldest first, with who changed it, when and why."""
    await entry_of(session=session, participant=participant, entry_id=entry_id)
    result = await session.execute(
        select(DiaryEntryVersion)
        .where(col(DiaryEntryVersion.entry_id) == entry_id)
        .order_by(col(DiaryEntryVersion.version))
    )
    return [
        {
            "version": v.version,
            "op": v.op,
            "changed_by": {"user_id": str(v.changed_by_user_id), "role": v.changed_by_role},
            "changed_at": entries.utc_text(v.changed_at),
            "reason": v.reason,
            "entry": v.audit_record,
        }
        for v in result.scalars()
    ]


async def list_entries(
    *,
    session: AsyncSession,
    participant: Participant,
    kind: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    include_voided: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """Entries newest first (by occurred_at, then id), keyset-paginated; voided ones only on request."""
    query = _states().where(_ENTRY.c.participant_id == participant.id)
    if kind is not None:
        query = query.where(col(DiaryEntry.kind) == kind)
    if not include_voided:
        query = query.where(col(DiaryEntry.voided).is_(False))
    if occurred_from is not None:
        query = query.where(col(DiaryEntry.occurred_at) >= occurred_from)
    if occurred_to is not None:
        query = query.where(col(DiaryEntry.occurred_at) < occurred_to)
    page = await paginate(session, query, keys=NEWEST_FIRST, limit=limit, cursor=cursor)
    return Page([dict(zip(_STATE_NAMES, row, strict=True)) for row in page.items], page.next_cursor)


async def changes(
    *, session: AsyncSession, participant: Participant, since: str | None, limit: int = 500
) -> tuple[list[RowMapping], str, bool]:
    """What changed after `since`, in commit order: each entry once, at its latest state (voids as tombstones).

    Returns (the entries' states, the next cursor, whether more changes wait).
    """
    after = feed_position(since)
    result = await session.execute(
        _states()
        .add_columns(_ENTRY.c.change_seq)
        .where(_ENTRY.c.participant_id == participant.id, _ENTRY.c.change_seq > after)
        .order_by(_ENTRY.c.change_seq)
        .limit(limit + 1)
    )
    rows = result.mappings().all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1]["change_seq"] if rows else after
    return list(rows), encode_cursor([last]), has_more


def feed_position(since: str | None) -> int:
    """The feed position a `since` cursor names; empty or "0" is the start of the feed.

    Phones keep this cursor across app and server updates, so the first format ("s:<n>", base64url) is
    still read.
    """
    if since is None or since in ("", "0"):
        return 0
    try:
        legacy = base64.urlsafe_b64decode(since + "=" * (-len(since) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed(since, "since") from None
    if legacy.startswith("s:"):
        if not legacy[2:].isdigit():
            raise malformed(since, "since")
        return int(legacy[2:])
    (position,) = decode_cursor(since, [int], "since")
    return int(position)
