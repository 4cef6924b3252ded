"""The study's visit calendar for coordinators and clinicians: visits of the participants in their scope."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access
from core.access import Actor
from core.errors import FieldProblem, InvalidInput
from core.models.study import Participant, Site
from core.models.visits import Visit, VisitStatus
from core.pagination import Page, SortKey, paginate
from core.studies.service import study_in_scope

KEYS = [SortKey(col(Visit.target_date), date), SortKey(col(Visit.id), uuid.UUID)]


async def study_visits(
    *,
    session: AsyncSession,
    actor: Actor,
    study_id: uuid.UUID,
    status: VisitStatus | None,
    site_code: str | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    cursor: str | None,
) -> Page[tuple[Any, ...]]:
    """Visits by target date (then id), each row (visit, subject code, site code); the actor's scope only."""
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidInput(
            f"to: {date_to} is before from ({date_from}).",
            fields=[FieldProblem("to", f"{date_to} is before from {date_from}")],
        )
    query = (
        select(Visit, Participant.subject_code, Site.code)
        .join(Participant, col(Participant.id) == col(Visit.participant_id))
        .join(Site, col(Site.id) == col(Participant.site_id))
        .where(col(Visit.study_id) == study.id, access.participant_scope(actor))
    )
    if status is not None:
        query = query.where(col(Visit.status) == status.value)
    if site_code is not None:
        site = await session.execute(
            select(Site.id).where(col(Site.study_id) == study.id, col(Site.code) == site_code)
        )
        if site.first() is None:
            raise InvalidInput(
                f"site: {site_code!r} is not a site of {study.code}.",
                fields=[FieldProblem("site", f"{site_code!r} is not a site of {study.code}")],
            )
        query = query.where(col(Site.code) == site_code)
    if date_from is not None:
        query = query.where(col(Visit.target_date) >= date_from)
    if date_to is not None:
        query = query.where(col(Visit.target_date) <= date_to)
    return await paginate(session, query, keys=KEYS, limit=limit, cursor=cursor)
