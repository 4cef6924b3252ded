"""Participant x time frame, in SQL: the rows every report hangs its figures on (CLINICAL.md A3).

Frame k (from 1) covers local dates [day 0 + (k-1) x M months, day 0 + k x M months), M = the protocol's
`time_frame_months`, day 0 = `participant.treatment_date`. A row exists while the participant was on study in
the frame and inside the report period: from max(frame start, `from`) to min(frame end, withdrawal day, data cut
`to`), end exclusive; `exposure_days` counts those days and `exposure_years` = days / 365.25.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    FromClause,
    Select,
    and_,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlmodel import col

from core import access
from core.access import Actor
from core.models.study import Arm, Participant, ParticipantStatus, Site
from core.protocol import ProtocolSettings
from core.reports import sql

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Scope:
    """Which participants and days a report covers (already checked against the caller's rights)."""

    study_id: uuid.UUID
    actor: Actor
    site_id: uuid.UUID | None
    arm_id: uuid.UUID | None
    start: date | None
    cut: date  # exclusive: the data cut


def frame_count(protocol: ProtocolSettings) -> int:
    """Frames up to the protocol's last visit month (24 months / 3 = 8 for the seed trial)."""
    return max(1, math.ceil(max(protocol.visits.months) / protocol.time_frame_months))


def participants_in(scope: Scope) -> ColumnElement[bool]:
    """A condition on `participant`: in the study, in the caller's scope, matching the filters, enrolled."""
    conditions = [
        col(Participant.study_id) == scope.study_id,
        access.participant_scope(scope.actor),
        col(Participant.status) != ParticipantStatus.screening.value,
    ]
    if scope.site_id is not None:
        conditions.append(col(Participant.site_id) == scope.site_id)
    if scope.arm_id is not None:
        conditions.append(col(Participant.arm_id) == scope.arm_id)
    return and_(*conditions)


def participant_frames(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    """One row per participant per frame with exposure: participant_id, subject_code, site_code, arm_code,
    frame, frame_start, frame_end (last day, inclusive), period_start, period_end (exclusive), exposure_days,
    exposure_years."""
    months = protocol.time_frame_months
    frames = sql.numbers(frame_count(protocol)).subquery("frames")
    frame = frames.c.frame
    frame_start = sql.add_months(dialect, col(Participant.treatment_date), (frame - 1) * months)
    frame_next = sql.add_months(dialect, col(Participant.treatment_date), frame * months)
    cut = sql.as_date(scope.cut)
    withdrawal = sql.local_day(dialect, col(Participant.withdrawn_at), col(Participant.timezone))
    base = (
        select(
            col(Participant.id).label("participant_id"),
            col(Participant.subject_code).label("subject_code"),
            col(Site.code).label("site_code"),
            col(Arm.code).label("arm_code"),
            col(Participant.treatment_date).label("day0"),
            frame.label("frame"),
            frame_start.label("frame_start"),
            frame_next.label("frame_next"),
            withdrawal.label("withdrawal"),
        )
        .select_from(Participant)
        .join(Site, col(Site.id) == col(Participant.site_id))
        .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
        .join(frames, literal(True))
        .where(participants_in(scope))
        .subquery("base")
    )
    start = (
        sql.latest(dialect, base.c.frame_start, sql.as_date(scope.start))
        if scope.start
        else base.c.frame_start
    )
    end = sql.earliest(dialect, base.c.frame_next, func.coalesce(base.c.withdrawal, cut), cut)
    days = sql.days_between(dialect, start, end)
    return select(
        base.c.participant_id,
        base.c.subject_code,
        base.c.site_code,
        base.c.arm_code,
        base.c.day0,
        base.c.frame,
        base.c.frame_start,
        sql.minus_one_day(dialect, base.c.frame_next).label("frame_end"),
        start.label("period_start"),
        end.label("period_end"),
        days.label("exposure_days"),
        (cast(days, Float) / DAYS_PER_YEAR).label("exposure_years"),
    ).where(start < end)


# What names a participant's frame in every report's rows (the row's key), in the order the rows show it.
FRAME_KEYS = ("subject_code", "site_code", "arm_code", "frame", "frame_start", "frame_end", "exposure_years")


def frame_keys(frames: CTE) -> list[ColumnElement[Any]]:
    return [frames.c[name] for name in FRAME_KEYS]


def in_frame(frames: CTE, table: FromClause, day: ColumnElement[Any]) -> ColumnElement[bool]:
    """`table`'s row (of a participant, on a local `day`) falls in the frame's period."""
    return and_(
        table.c.participant_id == frames.c.participant_id,
        day >= frames.c.period_start,
        day < frames.c.period_end,
    )


def figures_per_frame(
    frames: CTE, table: FromClause, day: ColumnElement[Any], figures: Sequence[ColumnElement[Any]]
) -> Select[Any]:
    """One row per participant per frame (a frame without any of `table`'s rows too): the frame's key and
    `figures`, aggregates over `table`'s rows whose `day` falls in the frame; by site, subject, frame."""
    keys = frame_keys(frames)
    return (
        select(*keys, *figures)
        .select_from(frames)
        .outerjoin(table, in_frame(frames, table, day))
        .group_by(frames.c.participant_id, *keys)
        .order_by(frames.c.site_code, frames.c.subject_code, frames.c.frame)
    )


class Aggregate(Protocol):
    """A report's aggregate over its rows, grouped by `group`: labelled `kind`, `site_code` (and, unblinded,
    `arm_code`) and its figures."""

    def __call__(
        self, rows: CTE, site: Any, arm: Any, *, kind: int, unblinded: bool, group: list[Any]
    ) -> Select[Any]: ...


def per_site_total_and_arm(rows: CTE, aggregate: Aggregate, *, unblinded: bool, by: str) -> Select[Any]:
    """The aggregates of a report's rows per `by` (frame, month): one row per site, one for all sites and
    (unblinded only) one per arm, in that order. A blinded reader's answer never groups or orders by arm, so
    no figure splits the participants by it."""
    text_null = cast(null(), rows.c.site_code.type)
    # kind: 0 per site, 1 all sites, 2 per arm, so each `by` reads its sites, the total, then the arms
    parts = [
        aggregate(rows, rows.c.site_code, text_null, kind=0, unblinded=unblinded, group=[rows.c.site_code]),
        aggregate(rows, text_null, text_null, kind=1, unblinded=unblinded, group=[]),
    ]
    if unblinded:
        parts.append(
            aggregate(rows, text_null, rows.c.arm_code, kind=2, unblinded=True, group=[rows.c.arm_code])
        )
    ordered = union_all(*parts).subquery("agg")
    order = [ordered.c[by], ordered.c.kind, ordered.c.site_code]
    if unblinded:
        order.append(ordered.c.arm_code)
    return select(*(c for c in ordered.c if c.name != "kind")).order_by(*order)
