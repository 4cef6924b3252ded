"""Keyset pages: cursors round-trip and refuse forgeries, mixed directions walk every row once, in order."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import case, literal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.diary.reads import feed_position
from core.errors import InvalidInput
from core.models.people import Role, User
from core.pagination import SortKey, decode_cursor, encode_cursor, paginate


def test_a_cursor_round_trips_its_typed_values() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    entry_id = uuid.uuid4()
    cursor = encode_cursor([at, entry_id, 7, "MS-001"])
    assert decode_cursor(cursor, [datetime, uuid.UUID, int, str]) == (at, entry_id, 7, "MS-001")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        base64.urlsafe_b64encode(b'["k1", "x"]').decode(),  # wrong number of values
        base64.urlsafe_b64encode(b'["k9", 1, 2]').decode(),  # another format
        base64.urlsafe_b64encode(b'["k1", "2026-01-01T00:00:00", 2]').decode(),  # a time without offset
        encode_cursor(["yesterday", uuid.uuid4()]),  # a value of the wrong type
    ],
)
def test_a_forged_or_foreign_cursor_is_a_422_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor, [datetime, uuid.UUID], path="cursor")
    assert refused.value.fields[0].path == "cursor"


def test_the_changes_feed_still_reads_the_cursors_phones_kept_from_the_first_format() -> None:
    legacy = base64.urlsafe_b64encode(b"s:42").decode().rstrip("=")
    assert feed_position(legacy) == 42
    assert feed_position(encode_cursor([42])) == 42
    assert feed_position(None) == feed_position("0") == 0
    with pytest.raises(InvalidInput):
        feed_position(base64.urlsafe_b64encode(b"s:x").decode())


async def test_pages_in_mixed_directions_visit_every_row_once_in_order(session: AsyncSession) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    roles = [Role.clinician, Role.coordinator, Role.statistician]
    users = [
        User(
            email=f"page-{i}@example.org",
            password_hash="x",
            role=roles[i % 3],
            created_at=start + timedelta(minutes=i // 2),  # ties on the time: the id breaks them
        )
        for i in range(11)
    ]
    session.add_all(users)
    await session.flush()
    # coordinators first (an expression key), then newest first, then id
    rank = case((col(User.role) == Role.coordinator.value, literal(0)), else_=literal(1))
    keys = [
        SortKey(rank, int),
        SortKey(col(User.created_at), datetime, descending=True),
        SortKey(col(User.id), uuid.UUID),
    ]
    query = select(User.email).where(col(User.email).like("page-%"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await paginate(session, query, keys=keys, limit=3, cursor=cursor)
        seen += [email for (email,) in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted(
        users,
        key=lambda u: (u.role != Role.coordinator, -u.created_at.timestamp(), str(u.id)),
    )
    assert seen == [u.email for u in expected]
