"""`endpoints.snapshot`: at the end of each participant's time frame, that frame's endpoint counts are stored.

A frame k (CLINICAL.md A3) is complete when the participant's local today is past its last day. Each run stores,
for every complete frame that has no `endpoint_snapshot` row under the study's protocol version in force, the
participant's row of the hypoglycemia report for that frame (the same SQL, so the job and the report cannot
disagree), with the participant's diary change position. The row's key (participant, frame, protocol version) is
unique: a second run, or two schedulers at once, store nothing twice, and a run after downtime stores every frame
that ended meanwhile. A frame the participant never reached (withdrawn before it began) has no row to store.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.access import Actor
from core.db import dialect_name, insert_for
from core.episodes import store as episodes
from core.models.diary import DiarySequence
from core.models.people import Role
from core.models.reports import EndpointSnapshot
from core.models.study import Participant, ParticipantStatus
from core.protocol import ProtocolSettings
from core.reports import hypoglycemia
from core.reports.frames import DAYS_PER_YEAR, Scope, frame_count
from core.studies.protocol import current_protocol
from core.visits.plan import add_months, local_today

SNAPSHOT_TABLE = EndpointSnapshot.__table__  # type: ignore[attr-defined]
# the job reads the whole study as the report's scoping function lets an admin; nobody signs in as it
SCHEDULER = Actor(user_id=uuid.UUID(int=0), role=Role.admin, email="scheduler")
COUNTS = (
    "episodes",
    "level_1",
    "level_2",
    "level_3",
    "severe",
    "documented_symptomatic",
    "asymptomatic",
    "probable_symptomatic",
    "pseudo_hypoglycemia",
)


def complete_frames(participant: Participant, protocol: ProtocolSettings, now: datetime) -> list[int]:
    """The frames of `participant` that have ended (local today after their last day) and that they reached
    (began before the withdrawal day): the frames the report has a row for and that can no longer grow."""
    today = local_today(now, participant.timezone)
    withdrawn_on = (
        local_today(participant.withdrawn_at, participant.timezone) if participant.withdrawn_at else None
    )
    months = protocol.time_frame_months
    frames = []
    for frame in range(1, frame_count(protocol) + 1):
        start = add_months(participant.treatment_date, (frame - 1) * months)
        if add_months(participant.treatment_date, frame * months) > today:
            break
        if withdrawn_on is None or start < withdrawn_on:
            frames.append(frame)
    return frames


async def _stored(session: AsyncSession, study_id: uuid.UUID, version: int) -> set[tuple[uuid.UUID, int]]:
    found = await session.execute(
        select(col(EndpointSnapshot.participant_id), col(EndpointSnapshot.frame)).where(
            col(EndpointSnapshot.study_id) == study_id, col(EndpointSnapshot.protocol_version) == version
        )
    )
    return {(pid, frame) for pid, frame in found.all()}


async def _rows(
    session: AsyncSession, study_id: uuid.UUID, protocol: ProtocolSettings, ids: set[uuid.UUID], today: date
) -> list[dict[str, Any]]:
    """The hypoglycemia report's rows of participants `ids` with their id and diary change position."""
    # any cut after every participant's local today: complete frames end before it, so it never clips them
    scope = Scope(study_id, SCHEDULER, None, None, None, today + timedelta(days=2))
    report = hypoglycemia.rows_query(dialect_name(session), scope, protocol).order_by(None).subquery("report")
    query = (
        select(
            report,
            col(Participant.id).label("participant_id"),
            func.coalesce(col(DiarySequence.last_change_seq), 0).label("change_seq"),
        )
        .join(
            Participant,
            and_(
                col(Participant.study_id) == study_id, col(Participant.subject_code) == report.c.subject_code
            ),
        )
        .outerjoin(DiarySequence, col(DiarySequence.participant_id) == col(Participant.id))
        .where(col(Participant.id).in_(sorted(ids)))
    )
    return [dict(row) for row in (await session.execute(query)).mappings().all()]


def _date(value: date | str) -> date:
    """A date as the dialect's date arithmetic answers it (SQLite: ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


async def snapshot(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Store every complete frame's endpoint counts not yet stored under the protocol version in force."""
    found = await session.execute(
        select(Participant).where(col(Participant.status) != ParticipantStatus.screening.value)
    )
    by_study: dict[uuid.UUID, list[Participant]] = defaultdict(list)
    for participant in found.scalars():
        by_study[participant.study_id].append(participant)
    counts = {"due": 0, "stored": 0}
    for study_id, members in sorted(by_study.items()):
        protocol, version = await current_protocol(session=session, study_id=study_id)
        stored = await _stored(session, study_id, version)
        due = {(p.id, frame) for p in members for frame in complete_frames(p, protocol, now)} - stored
        if not due:
            continue
        counts["due"] += len(due)
        ids = {pid for pid, _ in due}
        await episodes.refresh(session=session, participants=col(Participant.id).in_(sorted(ids)))
        for row in await _rows(session, study_id, protocol, ids, now.date()):
            if (row["participant_id"], row["frame"]) not in due:
                continue
            values = {
                "id": uuid.uuid4(),
                "participant_id": row["participant_id"],
                "study_id": study_id,
                "frame": row["frame"],
                "frame_start": _date(row["frame_start"]),
                "frame_end": _date(row["frame_end"]),
                "protocol_version": version,
                "change_seq": row["change_seq"],
                "exposure_days": round(row["exposure_years"] * DAYS_PER_YEAR),
                "exposure_years": round(row["exposure_years"], 4),
                **{name: int(row[name]) for name in COUNTS},
                "computed_at": now,
            }
            result = await session.execute(
                insert_for(session, SNAPSHOT_TABLE)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["participant_id", "frame", "protocol_version"])
            )
            counts["stored"] += int(getattr(result, "rowcount", 0) or 0)
    return counts
