"""The participants list's figures of each participant's current time frame: counted hypoglycemia episodes (the
episode cache, core.episodes.store) and diary completeness (the completeness report's SQL, core.reports).

The current frame is the frame (CLINICAL.md A3) holding the participant's local today. Completeness is the
completeness report's weeks that began in that frame: days with a fasting reading / days on study (to today,
the withdrawal or the data cut), the report's own definition summed over those weeks. A few days at the frame's
start that belong to a week begun in the previous frame are left to that week, as in the report's CSV.
Both come from a handful of queries for the whole list: one refresh of stale episode caches, one read of the
episodes, one completeness query per study (no query per participant).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.access import Actor
from core.db import dialect_name
from core.episodes import store as episodes
from core.models.reports import EpisodeState, HypoEpisode
from core.models.study import Participant, ParticipantStatus, Study
from core.protocol import ProtocolSettings
from core.reports.activity import completeness_rows
from core.reports.frames import Scope
from core.rules.lookups import protocol_for
from core.visits.plan import add_months


@dataclass(frozen=True)
class FrameFigures:
    frame: int
    start: date  # the frame's first local date
    episodes: int  # counted episodes starting in the frame
    expected_days: int  # days on study in the frame's weeks so far
    days_with_fasting: int

    @property
    def completeness_pct(self) -> float | None:
        if not self.expected_days:
            return None
        return round(100 * self.days_with_fasting / self.expected_days, 1)


def current_frame(day0: date, today: date, months: int) -> tuple[int, date] | None:
    """(frame number, first day) of the frame holding `today`; None before day 0."""
    if today < day0:
        return None
    frame = 1
    while add_months(day0, frame * months) <= today:
        frame += 1
    return frame, add_months(day0, (frame - 1) * months)


async def figures(
    *, session: AsyncSession, actor: Actor, participants: list[Participant]
) -> dict[uuid.UUID, FrameFigures]:
    """The current frame's figures of each listed participant (already in the actor's scope) on study."""
    protocols: dict[uuid.UUID, ProtocolSettings] = {}
    frames: dict[uuid.UUID, tuple[int, date]] = {}
    now = clock.now()
    for p in participants:
        if p.status == ParticipantStatus.screening.value:
            continue
        if p.study_id not in protocols:
            protocols[p.study_id] = (await protocol_for(session=session, study_id=p.study_id))[0]
        today = now.astimezone(ZoneInfo(p.timezone)).date()
        found = current_frame(p.treatment_date, today, protocols[p.study_id].time_frame_months)
        if found is not None:
            frames[p.id] = found
    if not frames:
        return {}
    counts = await _episode_counts(session, frames)
    weeks = await _completeness(session, actor, participants, frames, protocols)
    return {
        pid: FrameFigures(frame, start, counts.get(pid, 0), *weeks.get(pid, (0, 0)))
        for pid, (frame, start) in frames.items()
    }


async def _episode_counts(
    session: AsyncSession, frames: dict[uuid.UUID, tuple[int, date]]
) -> dict[uuid.UUID, int]:
    ids = list(frames)
    await episodes.refresh(session=session, participants=col(Participant.id).in_(ids))
    earliest = min(start for _frame, start in frames.values())
    found = await session.execute(
        select(col(HypoEpisode.participant_id), col(HypoEpisode.start_local_date))
        .join(EpisodeState, episodes.current_rows())
        .where(
            col(HypoEpisode.participant_id).in_(ids),
            col(HypoEpisode.counted).is_(True),
            col(HypoEpisode.start_local_date) >= earliest,
        )
    )
    counts: dict[uuid.UUID, int] = {}
    for pid, day in found.all():
        if day >= frames[pid][1]:
            counts[pid] = counts.get(pid, 0) + 1
    return counts


async def _completeness(
    session: AsyncSession,
    actor: Actor,
    participants: list[Participant],
    frames: dict[uuid.UUID, tuple[int, date]],
    protocols: dict[uuid.UUID, ProtocolSettings],
) -> dict[uuid.UUID, tuple[int, int]]:
    """(days on study, days with a fasting reading) over the weeks begun in each participant's current frame."""
    out: dict[uuid.UUID, tuple[int, int]] = {}
    dialect = dialect_name(session)
    for study_id, protocol in protocols.items():
        listed = {p.subject_code: p.id for p in participants if p.study_id == study_id and p.id in frames}
        if not listed:
            continue
        earliest = min(frames[pid][1] for pid in listed.values())
        # the data cut as the reports' default: the end of today where the study is
        study = await session.get(Study, study_id)
        assert study is not None  # the participants' own study
        cut = clock.now().astimezone(ZoneInfo(study.timezone)).date() + timedelta(days=1)
        scope = Scope(study_id, actor, None, None, earliest, cut)
        rows = await session.execute(completeness_rows(dialect, scope, protocol))
        for row in rows.mappings():
            pid = listed.get(row["subject_code"])
            if pid is None or row["week_start"] < frames[pid][1]:
                continue
            expected, logged = out.get(pid, (0, 0))
            out[pid] = (expected + row["expected_fasting"], logged + row["days_with_fasting"])
    return out
