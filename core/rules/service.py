"""Runs the protocol rules after every diary write: flags for the entry, alerts for clinicians.

The diary service calls `evaluate_entry` in the same transaction as the write, so an entry, the alerts it
raised and the messages they queue commit (or roll back) together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Boolean, String, Uuid, column, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.config import get_settings
from core.db import JSONDocument, UTCDateTime
from core.models.study import Participant, ProtocolVersion, Study
from core.protocol import ProtocolSettings
from core.rules import classify


class DiaryEntryLike(Protocol):
    """What the rules read of a diary entry (the diary's ORM row satisfies it)."""

    id: uuid.UUID
    participant_id: uuid.UUID
    kind: str
    data: dict[str, Any]
    occurred_at: datetime
    utc_offset_minutes: int
    local_date: date
    voided: bool
    version: int


@dataclass
class RuleOutcome:
    """The entry's flags (stored on it by the diary) and the alerts it raised or joined."""

    flags: list[str] = field(default_factory=list)
    alert_ids: list[uuid.UUID] = field(default_factory=list)


# Protocol versions never change once stored, so their parsed settings are cached for the process.
_PROTOCOLS: dict[tuple[uuid.UUID, int], ProtocolSettings] = {}


async def protocol_for(*, session: AsyncSession, study_id: uuid.UUID) -> tuple[ProtocolSettings, int]:
    """The study's protocol in force and its version: one small query, the parsing cached per version."""
    version = (
        await session.execute(select(Study.protocol_version).where(col(Study.id) == study_id))
    ).scalar_one()
    cached = _PROTOCOLS.get((study_id, version))
    if cached is None:
        settings = (
            await session.execute(
                select(ProtocolVersion.settings).where(
                    col(ProtocolVersion.study_id) == study_id, col(ProtocolVersion.version) == version
                )
            )
        ).scalar_one()
        cached = _PROTOCOLS[(study_id, version)] = ProtocolSettings.model_validate(settings)
    return cached, version


# The diary's table, named by its columns only: the rules read meals, they never write diary rows.
_diary = table(
    "diary_entry",
    column("id", Uuid()),
    column("participant_id", Uuid()),
    column("kind", String()),
    column("occurred_at", UTCDateTime()),
    column("voided", Boolean()),
    column("data", JSONDocument),
)


async def meal_timing(
    *, session: AsyncSession, participant_id: uuid.UUID, entry: DiaryEntryLike, protocol: ProtocolSettings
) -> classify.MealTiming:
    """Minutes between the reading and its meal: the reading's own answer, its linked meal, the last logged meal."""
    data = entry.data
    context = data.get("context")
    if context not in ("fasting", "postprandial"):
        return classify.MealTiming()
    since = entry.occurred_at - timedelta(hours=protocol.glucose.fasting_min_hours_after_meal)
    meals = _diary.c
    query = (
        select(meals.id, meals.occurred_at)
        .where(
            meals.participant_id == participant_id,
            meals.kind == "meal",
            meals.voided.is_(False),
            meals.occurred_at <= entry.occurred_at,
            meals.occurred_at >= since,
        )
        .order_by(meals.occurred_at.desc())
        .limit(1)
    )
    latest = (await session.execute(query)).first()
    since_logged = (entry.occurred_at - latest.occurred_at).total_seconds() / 60 if latest else None
    minutes: float | None = None
    if data.get("minutes_after_meal") is not None:
        minutes = float(data["minutes_after_meal"])
    elif data.get("meal_id"):
        linked = (
            await session.execute(
                select(meals.occurred_at).where(
                    meals.id == uuid.UUID(str(data["meal_id"])), meals.participant_id == participant_id
                )
            )
        ).scalar_one_or_none()
        if linked is not None:
            minutes = (entry.occurred_at - linked).total_seconds() / 60
    if minutes is None:
        minutes = since_logged
    return classify.MealTiming(minutes_after_meal=minutes, minutes_since_logged_meal=since_logged)


async def evaluate_entry(
    *,
    session: AsyncSession,
    participant: Participant,
    entry: DiaryEntryLike,
    previous: dict[str, Any] | None = None,
) -> RuleOutcome:
    """Classify a just-written (flushed) entry and raise or join the alerts it causes.

    `previous` is the prior version's snapshot for edits and voids (None for a new entry).
    """
    if not get_settings().rules.enabled:
        return RuleOutcome()
    if entry.voided or entry.kind not in ("glucose", "hypo_event"):
        return RuleOutcome()
    protocol, _version = await protocol_for(session=session, study_id=participant.study_id)
    timing = classify.MealTiming()
    if entry.kind == "glucose":
        timing = await meal_timing(
            session=session, participant_id=participant.id, entry=entry, protocol=protocol
        )
    flags = classify.classify_entry(
        kind=entry.kind,
        data=entry.data,
        local_date=entry.local_date,
        timing=timing,
        birth_date=participant.birth_date,
        protocol=protocol,
    )
    return RuleOutcome(flags=flags)


async def evaluate_entries(
    *, session: AsyncSession, participant: Participant, entries: list[DiaryEntryLike]
) -> list[RuleOutcome]:
    """`evaluate_entry` for each new entry of a batch, in the order given."""
    return [await evaluate_entry(session=session, participant=participant, entry=e) for e in entries]
