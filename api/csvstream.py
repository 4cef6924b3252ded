"""Tidy CSV answers written as their rows come from the database (reports and exports), never whole in memory.

The header is the column names; an empty cell is a missing value; dates and times are ISO 8601; booleans are
`true` / `false`. Rows arrive in chunks (lists of rows in column order) and each chunk is sent as one piece.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

from fastapi.responses import StreamingResponse


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, date) else value


async def lines(names: Sequence[str], chunks: AsyncIterator[Sequence[Sequence[Any]]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    async for rows in chunks:
        writer.writerows([cell(value) for value in row] for row in rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header of an answer without rows
        yield buffer.getvalue()


def response(
    filename: str, names: Sequence[str], chunks: AsyncIterator[Sequence[Sequence[Any]]]
) -> StreamingResponse:
    return StreamingResponse(
        lines(names, chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
