"""Which studies a login belongs to and in what role: staff through their assignments, participants and
guardians through the participants they may log for (GET /studies, GET /me)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access
from core.access import Actor
from core.models.people import Role
from core.models.study import Participant, Site, StaffAssignment, Study
from core.pagination import Page, SortKey, paginate

BY_CODE = (SortKey(col(Study.code), str), SortKey(col(Study.id), uuid.UUID))


@dataclass(frozen=True)
class Membership:
    """A study and the caller's place in it: their role and, for site staff, their sites' codes
    (empty: study-wide, an admin, or the participant side)."""

    study: Study
    role: Role
    site_codes: list[str]


def _studies_in_scope(actor: Actor) -> Any:
    if actor.is_staff or actor.role is Role.admin:
        return select(Study).where(access.study_scope(actor))
    # participant side: the studies of the participants this login may see
    mine = select(Participant.study_id).where(access.participant_scope(actor))
    return select(Study).where(col(Study.id).in_(mine))


async def _site_codes(
    session: AsyncSession, actor: Actor, study_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    codes: dict[uuid.UUID, list[str]] = defaultdict(list)
    if not actor.is_staff or not study_ids:
        return codes
    rows = await session.execute(
        select(StaffAssignment.study_id, Site.code)
        .join(Site, col(Site.id) == col(StaffAssignment.site_id))
        .where(col(StaffAssignment.user_id) == actor.user_id, col(StaffAssignment.study_id).in_(study_ids))
        .order_by(col(Site.code))
    )
    for study_id, code in rows.all():
        codes[study_id].append(code)
    return codes


async def studies_page(
    *, session: AsyncSession, actor: Actor, limit: int, cursor: str | None
) -> Page[Membership]:
    """The caller's studies by code (admin: every study)."""
    page = await paginate(session, _studies_in_scope(actor), keys=BY_CODE, limit=limit, cursor=cursor)
    studies = [study for (study,) in page.items]
    codes = await _site_codes(session, actor, [s.id for s in studies])
    return Page([Membership(s, actor.role, codes.get(s.id, [])) for s in studies], page.next_cursor)


async def memberships(*, session: AsyncSession, actor: Actor, limit: int = 100) -> list[Membership]:
    """The first `limit` studies of the caller, for /me (a login belongs to a handful; admins see the list)."""
    return (await studies_page(session=session, actor=actor, limit=limit, cursor=None)).items
