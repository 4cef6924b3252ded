"""Loads what the dose-review rules read, in two indexed queries whatever the volume of readings:
per-day counts of the participant's readings (summed in SQL), and the few entries that matter one by one."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.models.diary import DiaryEntry, GlucoseReading
from core.protocol import ProtocolSettings
from core.rules import classify as c
from core.rules.dose_review import DaySummary, HypoReport, Reading, Window

SPARSE_KINDS = ("hypo_event", "meal", "illness", "exercise")


@dataclass(frozen=True)
class Evaluated:
    """An entry being evaluated now: its stored flags are not written yet, so the rules use these."""

    entry_id: uuid.UUID
    kind: str
    occurred_at: datetime
    local_date: date
    data: dict[str, Any]
    flags: list[str]
    utc_offset_minutes: int = 0


def window_days(protocol: ProtocolSettings) -> int:
    r = protocol.dose_review
    return max(
        r.fasting_high_consecutive_days,
        r.no_hypo_lookback_days,
        r.postprandial_window_days,
        r.level1_window_days,
        2 * r.falling_fasting_days,
    )


def _has(flag: str) -> ColumnElement[bool]:
    # flags are a JSON list of plain words; its text holds each as "word" on PostgreSQL and SQLite alike
    return cast(col(DiaryEntry.flags), String).like(f'%"{flag}"%')


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _local_day(at: datetime, offset_minutes: int) -> date:
    return (at.astimezone(UTC) + timedelta(minutes=offset_minutes)).date()


def _reading(
    entry_id: uuid.UUID,
    occurred_at: datetime,
    local_date: date,
    data: dict[str, Any],
    flags: Sequence[str],
    factor: float,
    meal_type: str | None,
) -> Reading:
    value, unit = float(data["value"]), str(data["unit"])
    return Reading(
        entry_id=entry_id,
        occurred_at=occurred_at,
        local_date=local_date,
        value=value,
        unit=unit,
        value_mg_dl=value * factor if unit == c.MMOL_L else value,
        context=str(data.get("context") or "random"),
        flags=frozenset(flags),
        meal_type=meal_type,
    )


async def load_window(
    *,
    session: AsyncSession,
    participant_id: uuid.UUID,
    first_day: date,
    today: date,
    span: tuple[datetime, datetime],
    protocol: ProtocolSettings,
    evaluated: Sequence[Evaluated],
) -> Window:
    """The window for triggers between local days `first_day` and `today` (one entry, or a batch)."""
    days = window_days(protocol)
    first = first_day - timedelta(days=days - 1)
    # local days are at most 14 h from UTC, so two days of margin cover every offset
    since, until = span[0] - timedelta(days=days + 2), span[1] + timedelta(days=2)
    mine = [e.entry_id for e in evaluated]
    valid_fasting = and_(col(GlucoseReading.context) == "fasting", not_(_has(c.FASTING_AFTER_MEAL)))
    per_day = (
        select(
            col(GlucoseReading.local_date),
            _count(valid_fasting),
            _count(_has(c.FASTING_ABOVE)),
            _count(_has(c.FASTING_BELOW)),
            func.sum(case((valid_fasting, col(GlucoseReading.value_mg_dl)), else_=0.0)),
            _count(or_(_has(c.HYPO_L1), _has(c.HYPO_L2))),
            _count(_has(c.HYPO_L2)),
        )
        .join(DiaryEntry, col(DiaryEntry.id) == col(GlucoseReading.entry_id))
        .where(
            col(GlucoseReading.participant_id) == participant_id,
            col(GlucoseReading.occurred_at) >= since,
            col(GlucoseReading.occurred_at) <= until,
            col(GlucoseReading.local_date) >= first,
            col(GlucoseReading.local_date) <= today,
            col(DiaryEntry.voided).is_(False),
            col(GlucoseReading.entry_id).not_in(mine),
        )
        .group_by(col(GlucoseReading.local_date))
    )
    summaries = {
        row[0]: DaySummary(
            int(row[1]), int(row[2]), int(row[3]), float(row[4] or 0), int(row[5]), int(row[6])
        )
        for row in (await session.execute(per_day)).all()
    }
    sparse = (
        select(
            col(DiaryEntry.id),
            col(DiaryEntry.kind),
            col(DiaryEntry.occurred_at),
            col(DiaryEntry.utc_offset_minutes),
            col(DiaryEntry.local_date),
            col(DiaryEntry.flags),
            col(DiaryEntry.data),
        )
        .where(
            col(DiaryEntry.participant_id) == participant_id,
            col(DiaryEntry.occurred_at) >= since,
            col(DiaryEntry.occurred_at) <= until,
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.id).not_in(mine),
            or_(
                col(DiaryEntry.kind).in_(SPARSE_KINDS),
                and_(
                    col(DiaryEntry.kind) == "glucose",
                    or_(_has(c.HYPO_L1), _has(c.HYPO_L2), _has(c.POSTPRANDIAL_ABOVE)),
                ),
            ),
        )
        .order_by(col(DiaryEntry.occurred_at))
    )
    rows = [
        Evaluated(r.id, r.kind, r.occurred_at, r.local_date, r.data, list(r.flags), r.utc_offset_minutes)
        for r in (await session.execute(sparse)).all()
    ]
    return _assemble(
        rows=rows,
        evaluated=evaluated,
        summaries=summaries,
        first=first,
        today=today,
        protocol=protocol,
    )


def _assemble(
    *,
    rows: list[Evaluated],
    evaluated: Sequence[Evaluated],
    summaries: dict[date, DaySummary],
    first: date,
    today: date,
    protocol: ProtocolSettings,
) -> Window:
    window = Window(today=today, summaries=summaries)
    everything = sorted([*rows, *evaluated], key=lambda e: e.occurred_at)
    meals = [(e.occurred_at, e.entry_id, e.data.get("meal_type")) for e in everything if e.kind == "meal"]
    meal_times = [at for at, _, _ in meals]  # sorted, as `everything` is
    meal_by_id = {meal_id: kind for _, meal_id, kind in meals}
    being_evaluated = {x.entry_id for x in evaluated}
    factor = protocol.glucose.mg_dl_per_mmol_l
    for e in everything:
        if e.kind == "illness":
            end_at = e.data.get("ended_at")
            last = _local_day(datetime.fromisoformat(end_at), e.utc_offset_minutes) if end_at else today
            day = max(e.local_date, first)
            while day <= min(last, today):
                window.illness_days.setdefault(day, []).append(str(e.data.get("illness_type", "other")))
                day += timedelta(days=1)
            continue
        if not first <= e.local_date <= today:
            continue
        if e.kind == "hypo_event":
            window.hypo_reports.append(
                HypoReport(e.entry_id, e.occurred_at, e.local_date, c.SEVERE_HYPO in e.flags)
            )
        elif e.kind == "exercise":
            minutes = int(e.data.get("duration_min") or 0)
            window.exercise_days[e.local_date] = window.exercise_days.get(e.local_date, 0) + minutes
        elif e.kind == "glucose":
            meal_type = None
            if e.data.get("meal_id"):
                meal_type = meal_by_id.get(uuid.UUID(str(e.data["meal_id"])))
            if meal_type is None and e.data.get("context") == "postprandial":
                # the latest meal at or before the reading, if within 8 h (found by bisection: a dense week
                # holds thousands of meals and readings)
                position = bisect_right(meal_times, e.occurred_at)
                if position and e.occurred_at - meal_times[position - 1] <= timedelta(hours=8):
                    meal_type = meals[position - 1][2]
            reading = _reading(e.entry_id, e.occurred_at, e.local_date, e.data, e.flags, factor, meal_type)
            window.readings.append(reading)
            if e.entry_id in being_evaluated:
                # the entries being evaluated are not in the database's per-day counts
                summaries.setdefault(e.local_date, DaySummary()).add(reading)
    return window


async def fasting_evidence(
    *,
    session: AsyncSession,
    participant_id: uuid.UUID,
    days: Sequence[date],
    protocol: ProtocolSettings,
    current: dict[uuid.UUID, list[str]],
    limit: int = 60,
) -> list[Reading]:
    """The valid fasting readings of `days` (evidence of a suggestion that fired): loaded only then."""
    rows = (
        await session.execute(
            select(
                col(DiaryEntry.id),
                col(DiaryEntry.occurred_at),
                col(DiaryEntry.local_date),
                col(DiaryEntry.data),
                col(DiaryEntry.flags),
            )
            .join(GlucoseReading, col(GlucoseReading.entry_id) == col(DiaryEntry.id))
            .where(
                col(GlucoseReading.participant_id) == participant_id,
                col(GlucoseReading.local_date).in_(list(days)),
                col(GlucoseReading.context) == "fasting",
                col(DiaryEntry.voided).is_(False),
            )
            .order_by(col(DiaryEntry.occurred_at))
            .limit(limit)
        )
    ).all()
    factor = protocol.glucose.mg_dl_per_mmol_l
    readings = [
        _reading(r.id, r.occurred_at, r.local_date, r.data, current.get(r.id, r.flags), factor, None)
        for r in rows
    ]
    return [r for r in readings if r.valid_fasting]
