"""Loads the plain data the dose-review rules read: one indexed query over the participant's recent diary."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.models.diary import DiaryEntry
from core.protocol import ProtocolSettings
from core.rules import classify as c
from core.rules.dose_review import HypoReport, Reading, Window

KINDS = ("glucose", "hypo_event", "meal", "illness", "exercise")


def window_days(protocol: ProtocolSettings) -> int:
    r = protocol.dose_review
    return max(
        r.fasting_high_consecutive_days,
        r.no_hypo_lookback_days,
        r.postprandial_window_days,
        r.level1_window_days,
        2 * r.falling_fasting_days,
    )


def _local_day(at: datetime, offset_minutes: int) -> date:
    return (at + timedelta(minutes=offset_minutes)).date()


async def load_window(
    *,
    session: AsyncSession,
    participant_id: uuid.UUID,
    today: date,
    span: tuple[datetime, datetime],
    protocol: ProtocolSettings,
    current: dict[uuid.UUID, list[str]] | None = None,
    first_day: date | None = None,
) -> Window:
    """The participant's readings, hypoglycemia reports, illness and exercise days up to local day `today`.

    `span` is the first and last `occurred_at` being evaluated (one entry, or a batch); `current` maps the
    entries being evaluated to their new flags, which are not stored yet.
    """
    days = window_days(protocol)
    first = (first_day or today) - timedelta(days=days - 1)
    current = current or {}
    # local days are at most 14 h from UTC, so a margin of two days covers every offset
    rows = (
        await session.execute(
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
                col(DiaryEntry.occurred_at) >= span[0] - timedelta(days=days + 2),
                col(DiaryEntry.occurred_at) <= span[1] + timedelta(days=2),
                col(DiaryEntry.voided).is_(False),
                col(DiaryEntry.kind).in_(KINDS),
            )
            .order_by(col(DiaryEntry.occurred_at))
        )
    ).all()
    window = Window(today=today)
    meals: list[tuple[datetime, uuid.UUID, str | None]] = []
    glucose: list[Any] = []
    factor = protocol.glucose.mg_dl_per_mmol_l
    for row in rows:
        if row.kind == "meal":
            meals.append((row.occurred_at, row.id, row.data.get("meal_type")))
            continue
        if not first <= row.local_date <= today and row.kind != "illness":
            continue
        if row.kind == "glucose":
            glucose.append(row)
        elif row.kind == "hypo_event":
            flags = current.get(row.id, row.flags)
            window.hypo_reports.append(
                HypoReport(row.id, row.occurred_at, row.local_date, c.SEVERE_HYPO in flags)
            )
        elif row.kind == "illness":
            end_at = row.data.get("ended_at")
            last = _local_day(datetime.fromisoformat(end_at), row.utc_offset_minutes) if end_at else today
            day = max(row.local_date, first)
            while day <= min(last, today):
                window.illness_days.setdefault(day, []).append(str(row.data.get("illness_type", "other")))
                day += timedelta(days=1)
        elif row.kind == "exercise":
            minutes = int(row.data.get("duration_min") or 0)
            window.exercise_days[row.local_date] = window.exercise_days.get(row.local_date, 0) + minutes
    meal_by_id = {meal_id: kind for _, meal_id, kind in meals}
    for row in glucose:
        data = row.data
        value, unit = float(data["value"]), str(data["unit"])
        meal_type = None
        if data.get("meal_id"):
            meal_type = meal_by_id.get(uuid.UUID(str(data["meal_id"])))
        if meal_type is None and data.get("context") == "postprandial":
            earlier = [m for m in meals if timedelta(0) <= row.occurred_at - m[0] <= timedelta(hours=8)]
            meal_type = earlier[-1][2] if earlier else None
        flags = current.get(row.id, row.flags)
        window.readings.append(
            Reading(
                entry_id=row.id,
                occurred_at=row.occurred_at,
                local_date=row.local_date,
                value=value,
                unit=unit,
                value_mg_dl=value * factor if unit == c.MMOL_L else value,
                context=str(data.get("context") or "random"),
                flags=frozenset(flags),
                meal_type=meal_type,
            )
        )
    return window
