"""Diary reads: one entry with its ETag, its history (every version's audit record), the list and the changes
feed; answers are the stored documents of each entry's latest write."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.diary import entries
from core.errors import NotFound
from core.models.diary import DiaryEntry, DiaryEntryVersion
from core.models.study import Participant
from core.pagination import Page, SortKey, decode_cursor, encode_cursor, malformed, paginate

NEWEST_FIRST = (
    SortKey(col(DiaryEntry.occurred_at), datetime, descending=True),
    SortKey(col(DiaryEntry.id), uuid.UUID, descending=True),
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


async def get_entry(
    *, session: AsyncSession, participant: Participant, entry_id: uuid.UUID
) -> tuple[str, str]:
    """The current version of one entry (its stored JSON document) and its ETag."""
    result = await session.execute(
        select(cast(DiaryEntry.document, Text), DiaryEntry.version).where(
            col(DiaryEntry.id) == entry_id, col(DiaryEntry.participant_id) == participant.id
        )
    )
    found = result.first()
    if found is None:
        raise NotFound(f"The participant has no diary entry {entry_id}.")
    return found[0], f'W/"{entry_id}-v{found[1]}"'


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
            "entry": v.snapshot,
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
) -> Page[str]:
    """Entries newest first (by occurred_at, then id), keyset-paginated; voided ones only on request.

    Each entry comes as its stored JSON document (the answer of its latest write).
    """
    query = select(cast(DiaryEntry.document, Text)).where(col(DiaryEntry.participant_id) == participant.id)
    if kind is not None:
        query = query.where(col(DiaryEntry.kind) == kind)
    if not include_voided:
        query = query.where(col(DiaryEntry.voided).is_(False))
    if occurred_from is not None:
        query = query.where(col(DiaryEntry.occurred_at) >= occurred_from)
    if occurred_to is not None:
        query = query.where(col(DiaryEntry.occurred_at) < occurred_to)
    page = await paginate(session, query, keys=NEWEST_FIRST, limit=limit, cursor=cursor)
    return Page([document for (document,) in page.items], page.next_cursor)


async def changes(
    *, session: AsyncSession, participant: Participant, since: str | None, limit: int = 500
) -> tuple[list[tuple[str, str]], str, bool]:
    """What changed after `since`, in commit order: each entry once, at its latest state (voids as tombstones).

    Returns ([(op, entry document)], the next cursor, whether more changes wait).
    """
    after = feed_position(since)
    result = await session.execute(
        select(DiaryEntry.change_seq, DiaryEntry.voided, cast(DiaryEntry.document, Text))
        .where(col(DiaryEntry.participant_id) == participant.id, col(DiaryEntry.change_seq) > after)
        .order_by(col(DiaryEntry.change_seq))
        .limit(limit + 1)
    )
    rows = result.all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if rows else after
    return [("void" if r[1] else "upsert", r[2]) for r in rows], encode_cursor([last]), has_more


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
