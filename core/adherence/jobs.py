"""Diary adherence jobs: `diary.remind_fasting` (no fasting reading by the protocol's local time) and
`diary.flag_silent` (no entries for the protocol's number of days). Messages are keyed per participant and
local day (or silent stretch), so a job run twice queues nothing twice."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import outbox
from core.models.diary import DiaryEntry, GlucoseReading
from core.models.outbox import MessageCategory
from core.models.study import Participant, ParticipantStatus
from core.protocol import AdherenceRules
from core.studies import protocol as study_protocol
from core.visits import plan as visit_plan

FASTING_REMINDER = outbox.MessageKind("diary.reminder", MessageCategory.reminder)
SILENT = outbox.MessageKind("diary.silent", MessageCategory.operational, "warning")


async def _followed(session: AsyncSession) -> list[Participant]:
    result = await session.execute(
        select(Participant).where(col(Participant.status) == ParticipantStatus.enrolled.value)
    )
    return list(result.scalars())


async def _rules(session: AsyncSession, study_ids: set[uuid.UUID]) -> dict[uuid.UUID, AdherenceRules]:
    rules = {}
    for study_id in study_ids:
        settings, _ = await study_protocol.current_protocol(session=session, study_id=study_id)
        rules[study_id] = settings.adherence
    return rules


async def remind_fasting(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Past the protocol's local time (10:00 by default) with no fasting reading logged for today: a gentle
    reminder to the participant and every active guardian, once per local day. A day that has passed while
    the scheduler was down gets none (the reminder is about today)."""
    participants = await _followed(session)
    rules = await _rules(session, {p.study_id for p in participants})
    logged = await session.execute(
        select(col(GlucoseReading.participant_id), col(GlucoseReading.local_date))
        .where(
            col(GlucoseReading.context) == "fasting",
            col(GlucoseReading.voided).is_(False),
            col(GlucoseReading.local_date) >= now.date() - timedelta(days=1),
        )
        .distinct()
    )
    has_fasting = {(pid, day) for pid, day in logged.all()}
    notices = []
    for participant in participants:
        local_now = visit_plan.local_now(now, participant.timezone)
        today = local_now.date()
        if local_now.time() < rules[participant.study_id].fasting_reminder_local_time:
            continue
        if today < visit_plan.local_today(participant.enrolled_at, participant.timezone):
            continue
        if (participant.id, today) in has_fasting:
            continue
        payload = {
            "reminder": "fasting_glucose",
            "local_date": str(today),
            "subject_code": participant.subject_code,
            "summary": "No fasting glucose logged today yet: please log it when you measure",
        }
        key = f"diary.reminder:fasting:{participant.id}:{today}"
        notices.append(outbox.Notice(participant, payload, key))
    return await outbox.enqueue_each(session, FASTING_REMINDER, notices, counted="without_fasting")


async def flag_silent(session: AsyncSession, now: datetime) -> dict[str, int]:
    """No diary entry on the protocol's number of full local days before today (counted from enrolment for a
    diary never used): an operational message to the coordinators, once per silent stretch."""
    participants = await _followed(session)
    rules = await _rules(session, {p.study_id for p in participants})
    last = await session.execute(
        select(col(DiaryEntry.participant_id), func.max(col(DiaryEntry.local_date)))
        .where(col(DiaryEntry.voided).is_(False))
        .group_by(col(DiaryEntry.participant_id))
    )
    last_entry: dict[uuid.UUID, date] = {pid: day for pid, day in last.all()}
    notices = []
    for participant in participants:
        today = visit_plan.local_today(now, participant.timezone)
        enrolled_on = visit_plan.local_today(participant.enrolled_at, participant.timezone)
        # the day before the silence began: the last entry's day, or the day before enrolment
        since = last_entry.get(participant.id, enrolled_on - timedelta(days=1))
        silent_days = (today - since).days - 1
        if silent_days < rules[participant.study_id].days_without_entries_alert:
            continue
        payload = {
            "subject_code": participant.subject_code,
            "last_entry_date": str(last_entry[participant.id]) if participant.id in last_entry else None,
            "silent_days": silent_days,
            "summary": f"{participant.subject_code}: no diary entries for {silent_days} days",
        }
        notices.append(outbox.Notice(participant, payload, f"diary.silent:{participant.id}:{since}"))
    return await outbox.enqueue_each(session, SILENT, notices, counted="silent")
