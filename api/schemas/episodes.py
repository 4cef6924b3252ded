"""Answer schemas of the episode list (API.md: GET /participants/{participant_id}/episodes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.pages import Page
from core.diary.kinds import GlucoseUnit
from core.models.reports import EpisodeCategory, HypoEpisode


class EpisodePublic(BaseModel):
    start: datetime
    end: datetime
    level: Literal[1, 2, 3]
    category: EpisodeCategory | None = Field(
        description="ADA 2005 category for endpoint tables; null for the participant and guardians"
    )
    nadir_value: float | None = Field(description="lowest value as entered; null when nothing was measured")
    nadir_unit: GlucoseUnit | None
    nadir_mg_dl: float | None
    readings: int = Field(description="readings in the episode, re-checks above the threshold included")
    needed_assistance: bool
    entry_ids: list[uuid.UUID] = Field(description="the glucose readings of the episode")
    event_ids: list[uuid.UUID] = Field(description="the self-reported hypoglycemia events linked to it")
    protocol_version: int

    @classmethod
    def of(cls, row: HypoEpisode, *, with_category: bool) -> EpisodePublic:
        return cls.model_validate(
            {
                **row.model_dump(
                    warnings=False
                ),  # a row written in this request may hold a str where it reads back an enum
                "start": row.start_at,
                "end": row.end_at,
                "category": row.category if with_category else None,
            }
        )


class EpisodePage(Page[EpisodePublic]):
    pass
