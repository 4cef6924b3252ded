"""The hypoglycemia report in SQL: episodes by level and category per participant per frame, and per-frame
aggregates (per site, all sites, and per arm for unblinded readers) with patient-years and event rates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlmodel import col

from core.episodes.detect import PSEUDO_HYPOGLYCEMIA
from core.episodes.store import current_rows
from core.models.reports import EpisodeState, HypoEpisode
from core.models.study import Participant
from core.protocol import ProtocolSettings
from core.reports.frames import (
    Scope,
    figures_per_frame,
    participant_frames,
    participants_in,
    per_site_total_and_arm,
)

_CATEGORIES = ("severe", "documented_symptomatic", "asymptomatic", "probable_symptomatic")


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def rows_query(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    """One row per participant per frame (the report's `rows`), ordered by site, subject, frame."""
    frames = participant_frames(dialect, scope, protocol).cte("pf")
    episodes = (
        select(
            col(HypoEpisode.participant_id),
            col(HypoEpisode.start_local_date),
            col(HypoEpisode.level),
            col(HypoEpisode.category),
            col(HypoEpisode.counted),
        )
        .join(EpisodeState, current_rows())
        .where(col(HypoEpisode.participant_id).in_(select(col(Participant.id)).where(participants_in(scope))))
        .subquery("ep")
    )
    counted = episodes.c.counted.is_(True)
    figures = [
        _count(counted).label("episodes"),
        *(_count(and_(counted, episodes.c.level == n)).label(f"level_{n}") for n in (1, 2, 3)),
        *(_count(and_(counted, episodes.c.category == c)).label(c) for c in _CATEGORIES),
        _count(episodes.c.category == PSEUDO_HYPOGLYCEMIA).label("pseudo_hypoglycemia"),
    ]
    return figures_per_frame(frames, episodes, episodes.c.start_local_date, figures)


def _aggregate(
    rows: CTE, site: Any, arm: Any, *, kind: int, unblinded: bool, group: list[Any]
) -> Select[Any]:
    exposure = func.sum(rows.c.exposure_years)
    per_year = cast(func.sum(rows.c.episodes), Float) / func.nullif(exposure, 0)
    with_episode = _count(rows.c.episodes > 0)
    columns = [literal(kind).label("kind"), rows.c.frame.label("frame"), site.label("site_code")]
    if unblinded:
        columns.append(arm.label("arm_code"))
    columns += [
        func.count().label("participants"),
        with_episode.label("participants_with_episode"),
        (100.0 * cast(with_episode, Float) / func.count()).label("participants_with_episode_pct"),
        cast(func.sum(rows.c.episodes), Integer).label("episodes"),
        cast(func.sum(rows.c.severe), Integer).label("severe"),
        exposure.label("exposure_years"),
        per_year.label("episodes_per_patient_year"),
        (100.0 * per_year).label("episodes_per_100_patient_years"),
        (100.0 * cast(func.sum(rows.c.severe), Float) / func.nullif(exposure, 0)).label(
            "severe_per_100_patient_years"
        ),
    ]
    return select(*columns).group_by(rows.c.frame, *group)


def aggregates_query(
    dialect: str, scope: Scope, protocol: ProtocolSettings, *, unblinded: bool
) -> Select[Any]:
    """Per frame: one row per site, one for all sites, and (unblinded only) one per arm."""
    rows = rows_query(dialect, scope, protocol).order_by(None).cte("hypo_rows")
    return per_site_total_and_arm(rows, _aggregate, unblinded=unblinded, by="frame")
