"""Opaque cursors: keyset positions of the entries list and sequence numbers of the changes feed."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from core.errors import FieldProblem, InvalidInput


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, path: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _malformed(cursor, path) from None


def _malformed(cursor: str, path: str) -> InvalidInput:
    shown = cursor if len(cursor) <= 40 else cursor[:37] + "..."
    return InvalidInput(
        f"The {path} {shown!r} is not a cursor this service gave out.",
        fields=[FieldProblem(path, f"malformed cursor {shown!r}: use a value from an earlier answer")],
    )


def encode_position(occurred_at: datetime, entry_id: uuid.UUID) -> str:
    return _encode(f"p:{occurred_at.isoformat()}|{entry_id.hex}")


def decode_position(cursor: str, path: str = "cursor") -> tuple[datetime, uuid.UUID]:
    text = _decode(cursor, path)
    if not text.startswith("p:") or "|" not in text:
        raise _malformed(cursor, path)
    moment, _, entry = text[2:].partition("|")
    try:
        at = datetime.fromisoformat(moment)
        entry_id = uuid.UUID(hex=entry)
    except ValueError:
        raise _malformed(cursor, path) from None
    if at.tzinfo is None:
        raise _malformed(cursor, path)
    return at, entry_id


def encode_seq(seq: int) -> str:
    return _encode(f"s:{seq}")


def decode_seq(cursor: str | None, path: str = "since") -> int:
    """A feed position; empty or "0" is the start of the feed."""
    if cursor is None or cursor in ("", "0"):
        return 0
    text = _decode(cursor, path)
    if not text.startswith("s:") or not text[2:].isdigit():
        raise _malformed(cursor, path)
    return int(text[2:])
