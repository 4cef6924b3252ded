"""Links between entries: a reading's `meal_id` names a meal, a hypo event's `glucose_entry_id` a reading, both
of the same participant; an entry of the same batch counts (a phone syncs a meal and its reading together).

A link to nothing, to another participant's entry or to an entry of the wrong kind is refused with the field
named; the message never says whether the id exists in another diary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.errors import FieldProblem, InvalidInput
from core.models.diary import DiaryEntry

# entry kind -> (the link field, the kind it must name)
LINKS = {"glucose": ("meal_id", "meal"), "hypo_event": ("glucose_entry_id", "glucose")}
ARTICLE = {"meal": "a meal", "glucose": "a glucose entry"}


def link_of(kind: str, data: Mapping[str, Any]) -> tuple[str, uuid.UUID, str] | None:
    """(field, the id it names, the kind that id must be) of an entry's link, or None without one."""
    spec = LINKS.get(kind)
    if spec is None or not data.get(spec[0]):
        return None
    field, target = spec
    return field, uuid.UUID(str(data[field])), target


def check(kind: str, data: Mapping[str, Any], known: Mapping[uuid.UUID, str], *, prefix: str = "") -> None:
    """Refuse an entry whose link does not name an entry of the right kind in `known` (the participant's
    entries, id -> kind, with the batch's own)."""
    link = link_of(kind, data)
    if link is None:
        return
    field, target_id, target = link
    found = known.get(target_id)
    if found == target:
        return
    path = f"{prefix}.{field}" if prefix else field
    if found is None:
        message = f"{field} {target_id} names no entry of this participant; it must name {ARTICLE[target]}"
    else:
        message = f"{field} {target_id} names {ARTICLE.get(found, f'a {found} entry')}, not {ARTICLE[target]}"
    raise InvalidInput(f"The entry is not valid: {message}", fields=[FieldProblem(path, message)])


async def kinds_of(
    *, session: AsyncSession, participant_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """id -> kind of those of `ids` that are entries of the participant (another diary's are not found)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[uuid.UUID, str] = {}
    for start in range(0, len(wanted), 500):
        result = await session.execute(
            select(DiaryEntry.id, DiaryEntry.kind).where(
                col(DiaryEntry.participant_id) == participant_id,
                col(DiaryEntry.id).in_(wanted[start : start + 500]),
            )
        )
        found.update({entry_id: kind for entry_id, kind in result.all()})
    return found
