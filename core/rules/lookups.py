"""What the rules read for an entry: the protocol in force (parsed once per version), the meals around a
reading (one query, or one index for a batch) and the meal timing they give."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import bindparam, null
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.access import known_protocol_version
from core.models.diary import DiaryEntry
from core.models.study import Participant, ProtocolVersion, Study
from core.protocol import ProtocolSettings
from core.rules import classify


class DiaryEntryLike(Protocol):
    """What the rules read of a diary entry (the diary's ORM row satisfies it)."""

    id: uuid.UUID
    participant_id: uuid.UUID
    data: dict[str, Any]
    occurred_at: datetime
    utc_offset_minutes: int
    local_date: date
    voided: bool
    version: int

    @property
    def kind(self) -> str: ...  # read only: a plain str or the Kind the ORM row holds


# Protocol versions never change once stored, so their parsed settings are cached for the process.
_PROTOCOLS: dict[tuple[uuid.UUID, int], ProtocolSettings] = {}


async def protocol_for(*, session: AsyncSession, study_id: uuid.UUID) -> tuple[ProtocolSettings, int]:
    """The study's protocol in force and its version: one small query, the parsing cached per version."""
    version = known_protocol_version(session, study_id)
    if version is None:
        version = (
            await session.execute(select(Study.protocol_version).where(col(Study.id) == study_id))
        ).scalar_one()
    return await settings_of(session=session, study_id=study_id, version=version), version


async def settings_of(*, session: AsyncSession, study_id: uuid.UUID, version: int) -> ProtocolSettings:
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
    return cached


# The protocol's fasting rule looks back at most 24 h (GlucoseRules.fasting_min_hours_after_meal <= 24).
MEAL_LOOKBACK = timedelta(hours=24)


def needs_meals(entry: DiaryEntryLike) -> bool:
    return entry.kind == "glucose" and entry.data.get("context") in ("fasting", "postprandial")


JUDGED_KINDS = frozenset({"glucose", "hypo_event", "illness"})


@lru_cache(maxsize=8)
def _lookup_statement(with_version: bool, with_meals: bool, with_linked: bool) -> Any:
    """The lookup query of `lookups`, built once per shape: values travel as bound parameters (typed by the
    columns they meet), so each call only binds them (building the statement took more CPU than running it)."""
    columns: list[Any] = []
    if with_version:
        columns.append(
            select(Study.protocol_version).where(col(Study.id) == bindparam("l_study_id")).scalar_subquery()
        )
    if with_meals:
        meal = (
            col(DiaryEntry.participant_id) == bindparam("l_participant_id"),
            col(DiaryEntry.kind) == "meal",
        )
        columns.append(
            select(DiaryEntry.occurred_at)
            .where(
                *meal,
                col(DiaryEntry.voided).is_(False),
                col(DiaryEntry.occurred_at) <= bindparam("l_occurred_at"),
                col(DiaryEntry.occurred_at) >= bindparam("l_lookback_from"),
            )
            .order_by(col(DiaryEntry.occurred_at).desc())
            .limit(1)
            .scalar_subquery()
        )
        columns.append(
            select(DiaryEntry.occurred_at)
            .where(*meal, col(DiaryEntry.id) == bindparam("l_meal_id"))
            .scalar_subquery()
            if with_linked
            else null()
        )
    return select(*columns)


def _lookup_params(
    participant: Participant, entry: DiaryEntryLike, with_version: bool
) -> tuple[bool, bool, dict[str, Any]]:
    """(meals needed, a linked meal, the lookup query's parameters) for one entry."""
    with_meals = needs_meals(entry)
    linked = entry.data.get("meal_id") if with_meals else None
    params: dict[str, Any] = {}
    if with_version:
        params["l_study_id"] = participant.study_id
    if with_meals:
        params |= {
            "l_participant_id": participant.id,
            "l_occurred_at": entry.occurred_at,
            "l_lookback_from": entry.occurred_at - MEAL_LOOKBACK,
        }
    if linked:
        params["l_meal_id"] = uuid.UUID(str(linked))
    return with_meals, bool(linked), params


def _lookup_values(values: Sequence[Any], with_version: bool) -> Lookups:
    values = list(values)
    version = values.pop(0) if with_version else None
    latest, linked_at = (values[0], values[1]) if values else (None, None)
    return version, _utc(latest), _utc(linked_at)


# (protocol version in force, last meal before the reading, the linked meal)
Lookups = tuple[int | None, datetime | None, datetime | None]


async def lookups(
    *, session: AsyncSession, participant: Participant, entry: DiaryEntryLike, with_version: bool
) -> Lookups:
    """What the rules read for one entry, in ONE round trip (the parsed protocol is cached per version)."""
    with_meals, linked, params = _lookup_params(participant, entry, with_version)
    if not (with_version or with_meals):
        return None, None, None
    statement = _lookup_statement(with_version, with_meals, linked)
    return _lookup_values((await session.execute(statement, params)).one(), with_version)


@dataclass
class MealIndex:
    """The participant's meals around a batch of readings, read once: each reading's last meal before it
    (within MEAL_LOOKBACK) and its linked meal come from here instead of one query per reading."""

    times: list[datetime]  # sorted occurred_at of the non-voided meals in the span
    by_id: dict[str, datetime]

    @classmethod
    async def load(
        cls, *, session: AsyncSession, participant: Participant, entries: Sequence[DiaryEntryLike]
    ) -> MealIndex:
        readings = [e for e in entries if needs_meals(e)]
        if not readings:
            return cls([], {})
        first = min(e.occurred_at for e in readings) - MEAL_LOOKBACK
        last = max(e.occurred_at for e in readings)
        result = await session.execute(
            select(DiaryEntry.id, DiaryEntry.occurred_at).where(
                col(DiaryEntry.participant_id) == participant.id,
                col(DiaryEntry.kind) == "meal",
                col(DiaryEntry.voided).is_(False),
                col(DiaryEntry.occurred_at) >= first,
                col(DiaryEntry.occurred_at) <= last,
            )
        )
        found = [(str(meal_id), _utc(at)) for meal_id, at in result.all()]
        return cls(sorted(at for _, at in found if at), {i: at for i, at in found if at})

    def around(self, entry: DiaryEntryLike) -> tuple[datetime | None, datetime | None]:
        """(the latest meal at or before the reading within MEAL_LOOKBACK, the linked meal if in the index)."""
        if not needs_meals(entry):
            return None, None
        position = bisect_right(self.times, entry.occurred_at)
        latest = self.times[position - 1] if position else None
        if latest is not None and latest < entry.occurred_at - MEAL_LOOKBACK:
            latest = None
        linked = entry.data.get("meal_id")
        return latest, (self.by_id.get(str(linked)) if linked else None)

    async def linked(
        self, *, session: AsyncSession, participant: Participant, entry: DiaryEntryLike
    ) -> datetime | None:
        """A linked meal outside the span (or voided): asked for on its own, as the single-entry path does."""
        _version, _latest, linked = await lookups(
            session=session, participant=participant, entry=entry, with_version=False
        )
        return linked


def _utc(moment: datetime | None) -> datetime | None:
    # a scalar subquery's type is not the column's decorator, so SQLite hands back naive UTC
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def meal_timing(
    entry: DiaryEntryLike, latest: datetime | None, linked: datetime | None, protocol: ProtocolSettings
) -> classify.MealTiming:
    """Minutes from the meal to the reading: the reading's own answer, its linked meal, the last logged meal
    (only one within the protocol's fasting hours counts as "logged before")."""
    if not needs_meals(entry):
        return classify.MealTiming()
    limit = protocol.glucose.fasting_min_hours_after_meal * 60
    since_logged = (entry.occurred_at - latest).total_seconds() / 60 if latest else None
    if since_logged is not None and since_logged > limit:
        since_logged = None
    minutes: float | None = None
    if entry.data.get("minutes_after_meal") is not None:
        minutes = float(entry.data["minutes_after_meal"])
    elif linked is not None:
        minutes = (entry.occurred_at - linked).total_seconds() / 60
    if minutes is None:
        minutes = since_logged
    return classify.MealTiming(minutes_after_meal=minutes, minutes_since_logged_meal=since_logged)
