"""Hypoglycemia episodes of one participant (CLINICAL.md A2), oldest first."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, ParticipantInScope, SessionDep
from api.errors import responses
from api.schemas.episodes import EpisodePage, EpisodePublic
from core.episodes import store

router = APIRouter(prefix="/participants/{participant_id}", tags=["episodes"])


@router.get(
    "/episodes",
    response_model=EpisodePage,
    operation_id="listEpisodes",
    responses=responses(401, 404, 422),
)
async def list_episodes(
    participant: ParticipantInScope,
    session: SessionDep,
    actor: ActorDep,
    from_: Annotated[date | None, Query(alias="from", description="first local date (inclusive)")] = None,
    to: Annotated[date | None, Query(description="local date the list stops before (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> EpisodePage:
    """Episodes starting in [from, to), as of the diary now (edits, voids and late entries included).

    Staff in scope see each episode's ADA 2005 category; the participant and their guardians see their own
    episodes without it (the category is an endpoint classification for the trial's tables, not care advice).
    """
    page = await store.episode_page(
        session=session, participant_id=participant.id, start=from_, end=to, limit=limit, cursor=cursor
    )
    return EpisodePage(
        items=[
            EpisodePublic.of(row, with_category=actor.is_staff or actor.role == "admin") for row in page.items
        ],
        next_cursor=page.next_cursor,
    )
