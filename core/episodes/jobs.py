"""The episodes' jobs: `episodes.refresh` keeps the episode cache current (at the end); `episodes.weekly_summary`
sends each clinician a summary of last week's hypoglycemia episodes of their participants.

The week is the latest ISO week (Monday to Sunday, participants' local dates) that has ended everywhere: a local
Sunday ends by Monday 12:00 UTC in every time zone (UTC-12 is the furthest behind). Each clinician gets one
message per week, keyed by the week and the clinician, so a job run twice, or run again later that week, or by
two schedulers at once, queues it once. Which participants are a clinician's is decided by core.access, as for
every read. The message counts episodes by level and names the severe ones by subject code; it carries no arm
and no reading value (the e-mail and short text say only that a summary is waiting: notifications/render.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import access, outbox
from core.access import Actor
from core.episodes import store
from core.models.outbox import MessageCategory
from core.models.people import Role, User
from core.models.reports import EpisodeState, HypoEpisode
from core.models.study import Participant, ParticipantStatus, StaffAssignment, Study

KIND = "episodes.weekly_summary"
# a local date has ended in every time zone this long after it ended in UTC (UTC-12)
LAST_ZONE_BEHIND = timedelta(hours=12)
SEVERE_NAMED = 40  # more severe episodes than this in one week: the rest are counted, not named


def summarised_week(now: datetime) -> tuple[date, date]:
    """(Monday, next Monday) of the latest ISO week whose Sunday has ended in every time zone at `now`."""
    ended_everywhere = (now - LAST_ZONE_BEHIND).date()
    this_monday = ended_everywhere - timedelta(days=ended_everywhere.weekday())
    return this_monday - timedelta(days=7), this_monday


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Summary:
    participants: int  # enrolled participants the clinician follows
    with_episode: int
    levels: Counter[int]
    severe: list[str]  # subject codes (with the study code when the clinician works in several studies)

    @property
    def episodes(self) -> int:
        return sum(self.levels.values())

    def text(self, monday: date) -> str:
        sunday = monday + timedelta(days=6)
        period = f"Week {week_label(monday)} ({monday} to {sunday})"
        if not self.episodes:
            return f"{period}: no hypoglycemic episodes in your {self.participants} participants."
        levels = ", ".join(f"level {n}: {self.levels.get(n, 0)}" for n in (1, 2, 3))
        line = (
            f"{period}: {self.episodes} hypoglycemic episode{'s' if self.episodes != 1 else ''} in "
            f"{self.with_episode} of your {self.participants} participants ({levels})."
        )
        if self.severe:
            named = self.severe[:SEVERE_NAMED]
            more = len(self.severe) - len(named)
            line += " Severe: " + ", ".join(named) + (f" and {more} more." if more else ".")
        return line


async def _summary(session: AsyncSession, actor: Actor, monday: date, next_monday: date) -> Summary | None:
    followed = await session.execute(
        select(col(Participant.id), col(Study.code))
        .join(Study, col(Study.id) == col(Participant.study_id))
        .where(access.participant_scope(actor), col(Participant.status) == ParticipantStatus.enrolled.value)
    )
    rows = followed.all()
    if not rows:
        return None
    several_studies = len({code for _, code in rows}) > 1
    found = await session.execute(
        select(
            col(HypoEpisode.participant_id),
            col(HypoEpisode.level),
            col(HypoEpisode.category),
            col(Participant.subject_code),
            col(Study.code),
        )
        .join(EpisodeState, store.current_rows())
        .join(Participant, col(Participant.id) == col(HypoEpisode.participant_id))
        .join(Study, col(Study.id) == col(Participant.study_id))
        .where(
            access.participant_scope(actor),
            col(Participant.status) == ParticipantStatus.enrolled.value,
            col(HypoEpisode.counted).is_(True),
            col(HypoEpisode.start_local_date) >= monday,
            col(HypoEpisode.start_local_date) < next_monday,
        )
        .order_by(col(Study.code), col(Participant.subject_code), col(HypoEpisode.start_at))
    )
    episodes = found.all()
    severe = [
        f"{subject} ({study})" if several_studies else subject
        for _, _, category, subject, study in episodes
        if category == "severe"
    ]
    return Summary(
        participants=len(rows),
        with_episode=len({row[0] for row in episodes}),
        levels=Counter(row[1] for row in episodes),
        severe=severe,
    )


async def weekly_summary(session: AsyncSession, now: datetime) -> dict[str, int]:
    """One summary of last week's episodes to every active clinician who follows enrolled participants."""
    monday, next_monday = summarised_week(now)
    week = week_label(monday)
    clinicians = await session.execute(
        select(col(User.id), col(User.email))
        .join(StaffAssignment, col(StaffAssignment.user_id) == col(User.id))
        .where(col(StaffAssignment.role) == Role.clinician.value, col(User.active).is_(True))
        .distinct()
        .order_by(col(User.id))
    )
    staff = [Actor(user_id=user_id, role=Role.clinician, email=email) for user_id, email in clinicians.all()]
    counts = {"clinicians": 0, "episodes": 0, "queued": 0}
    if not staff:
        return counts
    # the week's episodes are read from the cache: bring the stale participants' episodes up to date first
    await store.refresh(
        session=session, participants=col(Participant.status) == ParticipantStatus.enrolled.value
    )
    for actor in staff:
        summary = await _summary(session, actor, monday, next_monday)
        if summary is None:
            continue
        counts["clinicians"] += 1
        counts["episodes"] += summary.episodes
        queued = await outbox.enqueue(
            session,
            recipient_user_id=actor.user_id,
            kind=KIND,
            category=MessageCategory.summary,
            payload={
                "week": week,
                "week_start": str(monday),
                "participants": summary.participants,
                "participants_with_episode": summary.with_episode,
                "episodes": summary.episodes,
                **{f"level_{n}": summary.levels.get(n, 0) for n in (1, 2, 3)},
                "severe_subject_codes": summary.severe,
                "summary": summary.text(monday),
            },
            dedup_key=f"{KIND}:{week}:{actor.user_id}",
        )
        counts["queued"] += int(queued)
    return counts


async def refresh(session: AsyncSession, now: datetime) -> dict[str, int]:
    """`episodes.refresh`: detect again the episodes of every participant whose diary or study protocol moved
    since their cache was made, so a report or an episode list finds it current instead of detecting on the
    reader's request (every participant who logged since the last report is stale: a study of 1,000 took
    114 s to detect whole, bench/README.md). Only the stale ones are recomputed; a second run finds none."""
    return {"participants": await store.refresh(session=session, participants=true())}
