"""Answer schemas of the episode list (API.md: GET /participants/{participant_id}/episodes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.pages import Page
from core.models.reports import HypoEpisode

Category = Literal["severe", "documented_symptomatic", "asymptomatic", "probable_symptomatic"]


class EpisodePublic(BaseModel):
    start: datetime
    end: datetime
    level: Literal[1, 2, 3]
    category: Category | None = Field(
        description="ADA 2005 category for endpoint tables; null for the participant and guardians"
    )
    nadir_value: float | None = Field(description="lowest value as entered; null when nothing was measured")
    nadir_unit: Literal["mg/dL", "mmol/L"] | None
    nadir_mg_dl: float | None
    readings: int = Field(description="readings in the episode, re-checks above the threshold included")
    needed_assistance: bool
    entry_ids: list[uuid.UUID] = Field(description="the glucose readings of the episode")
    event_ids: list[uuid.UUID] = Field(description="the self-reported hypoglycemia events linked to it")
    protocol_version: int

    @classmethod
    def of(cls, row: HypoEpisode, *, with_category: bool) -> EpisodePublic:
        return cls(
            start=row.start_at,
            end=row.end_at,
            level=row.level,  # type: ignore[arg-type]
            category=row.category if with_category else None,  # type: ignore[arg-type]
            nadir_value=row.nadir_value,
            nadir_unit=row.nadir_unit,  # type: ignore[arg-type]
            nadir_mg_dl=row.nadir_mg_dl,
            readings=row.readings,
            needed_assistance=row.needed_assistance,
            entry_ids=[uuid.UUID(i) for i in row.entry_ids],
            event_ids=[uuid.UUID(i) for i in row.event_ids],
            protocol_version=row.protocol_version,
        )


class EpisodePage(Page[EpisodePublic]):
    pass
