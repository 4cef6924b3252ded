"""The clinic dashboard's read models: the participants list with its flags, and the sites in an actor's scope.

Everything is filtered by core.access.participant_scope, the one scoping rule, and arms appear only where
core.access.sees_allocation allows.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, clock
from core.access import Actor
from core.dashboard import frame_figures
from core.models.alerts import Alert, AlertStatus
from core.models.diary import DiaryEntry
from core.models.study import Arm, Participant, Site, Study
from core.rules import classify
from core.rules.lifecycle import open_alert_count

# the flags that put a reading outside the protocol's ranges (mistimed or after-meal readings are not judged)
OUT_OF_RANGE = frozenset(
    {
        classify.HYPO_L1,
        classify.HYPO_L2,
        classify.FASTING_BELOW,
        classify.FASTING_ABOVE,
        classify.POSTPRANDIAL_ABOVE,
        classify.HYPER_L1,
        classify.HYPER_L2,
    }
)
RECENT_DAYS = 7
MAX_ROWS = 1000


@dataclass(frozen=True)
class ParticipantRow:
    id: uuid.UUID
    subject_code: str
    study_code: str
    site_code: str
    status: str
    last_entry_at: datetime | None
    open_alerts: int
    in_range: int  # the last RECENT_DAYS days' readings
    out_of_range: int
    arm_code: str | None  # None unless the actor may see the allocation
    frame: int | None = None  # the current time frame (None: not on study yet or screening)
    frame_episodes: int | None = None  # counted hypoglycemia episodes starting in it
    completeness_pct: float | None = None  # days with a fasting reading / days on study, in it


@dataclass(frozen=True)
class ParticipantList:
    rows: list[ParticipantRow]
    shows_arms: bool  # some row's study lets the actor see arms (the column is shown)
    truncated: bool


def is_out_of_range(flags: list[str]) -> bool:
    return not OUT_OF_RANGE.isdisjoint(flags)


async def sites_in_scope(*, session: AsyncSession, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """The sites of the participants `actor` may see, by code (the inbox's site filter)."""
    rows = await session.execute(
        select(Site.id, Site.code)
        .where(col(Site.id).in_(select(Participant.site_id).where(access.participant_scope(actor))))
        .order_by(col(Site.code))
    )
    return [(site_id, code) for site_id, code in rows.all()]


async def participant_list(*, session: AsyncSession, actor: Actor) -> ParticipantList:
    """Every participant in scope (up to MAX_ROWS, by subject code) with last entry, open alerts, the last
    week's readings in and out of range, and their current frame's episodes and diary completeness."""
    last_entry = (
        select(func.max(DiaryEntry.occurred_at))
        .where(col(DiaryEntry.participant_id) == col(Participant.id), col(DiaryEntry.voided).is_(False))
        .correlate(Participant)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            # six columns: more than sqlmodel's typed select() overloads take
            sa_select(Participant, col(Site.code), Study, col(Arm.code), open_alert_count(), last_entry)
            .join(Site, col(Site.id) == col(Participant.site_id))
            .join(Study, col(Study.id) == col(Participant.study_id))
            .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
            .where(access.participant_scope(actor))
            .order_by(col(Participant.subject_code), col(Participant.id))
            .limit(MAX_ROWS + 1)
        )
    ).all()
    truncated = len(rows) > MAX_ROWS
    rows = rows[:MAX_ROWS]
    counts = await _recent_counts(session, [p.id for p, *_ in rows], clock.now())
    in_frame = await frame_figures.figures(session=session, actor=actor, participants=[p for p, *_ in rows])
    out: list[ParticipantRow] = []
    shows_any = False
    for participant, site_code, study, arm_code, open_alerts, last_at in rows:
        shows = access.sees_allocation(actor, study)
        shows_any = shows_any or shows
        recent = counts.get(participant.id, Counter())
        figures = in_frame.get(participant.id)
        out.append(
            ParticipantRow(
                id=participant.id,
                subject_code=participant.subject_code,
                study_code=study.code,
                site_code=site_code,
                status=participant.status,
                last_entry_at=last_at,
                open_alerts=int(open_alerts or 0),
                in_range=recent["in"],
                out_of_range=recent["out"],
                arm_code=arm_code if shows else None,
                frame=figures.frame if figures else None,
                frame_episodes=figures.episodes if figures else None,
                completeness_pct=figures.completeness_pct if figures else None,
            )
        )
    return ParticipantList(out, shows_any, truncated)


async def _recent_counts(
    session: AsyncSession, participant_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Counter[str]]:
    counts: dict[uuid.UUID, Counter[str]] = {}
    if not participant_ids:
        return counts
    result = await session.execute(
        select(DiaryEntry.participant_id, DiaryEntry.flags).where(
            col(DiaryEntry.participant_id).in_(participant_ids),
            col(DiaryEntry.kind) == "glucose",
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.occurred_at) >= now - timedelta(days=RECENT_DAYS),
            col(DiaryEntry.occurred_at) <= now,
        )
    )
    for participant_id, flags in result.all():
        counts.setdefault(participant_id, Counter())["out" if is_out_of_range(flags) else "in"] += 1
    return counts


async def entries_by_id(*, session: AsyncSession, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, DiaryEntry]:
    """The current versions of entries named by alerts already loaded in scope (an alert's causes), by id."""
    if not entry_ids:
        return {}
    result = await session.execute(select(DiaryEntry).where(col(DiaryEntry.id).in_(entry_ids)))
    return {row.id: row for row in result.scalars()}


async def new_alert_count(*, session: AsyncSession, actor: Actor) -> int:
    """Alerts in scope nobody has acknowledged yet (the top bar's inbox count)."""
    result = await session.execute(
        select(func.count(col(Alert.id)))
        .join(Participant, col(Participant.id) == col(Alert.participant_id))
        .where(col(Alert.status) == AlertStatus.open.value, access.participant_scope(actor))
    )
    return int(result.scalar_one())


async def open_alert_kinds(*, session: AsyncSession, actor: Actor) -> list[str]:
    """The kinds among unresolved alerts in scope (the inbox's kind filter)."""
    result = await session.execute(
        select(Alert.kind)
        .distinct()
        .join(Participant, col(Participant.id) == col(Alert.participant_id))
        .where(col(Alert.status) != AlertStatus.resolved.value, access.participant_scope(actor))
        .order_by(col(Alert.kind))
    )
    return list(result.scalars())


async def studies_in_scope(*, session: AsyncSession, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """The studies where the actor holds an assignment (admin: all), by code (the visit calendar's studies)."""
    rows = await session.execute(
        select(Study.id, Study.code).where(access.study_scope(actor)).order_by(col(Study.code))
    )
    return [(study_id, code) for study_id, code in rows.all()]
