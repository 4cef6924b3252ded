"""A participant's glucose chart as data: readings, insulin doses, illness spans and hypoglycemia events of the
last N days, with the protocol's ranges in the participant's unit (the unit most of their readings use)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.dashboard.overview import is_out_of_range
from core.models.diary import DiaryEntry
from core.models.study import Participant
from core.rules.classify import MG_DL, MMOL_L, thresholds_for
from core.rules.service import protocol_for

SPANS = (14, 30, 90)
ILLNESS_DEFAULT_HOURS = 24  # an illness without an end is shaded for a day


@dataclass
class Chart:
    days: int
    unit: str
    ranges: dict[str, float]
    readings: list[list[Any]] = field(default_factory=list)  # [epoch s, value in unit, context, out of range]
    doses: list[list[Any]] = field(default_factory=list)  # [epoch s, units, purpose]
    illness: list[list[int]] = field(default_factory=list)  # [start epoch s, end epoch s]
    hypo_events: list[int] = field(default_factory=list)  # epoch s
    start: int = 0
    end: int = 0

    @property
    def in_range_count(self) -> int:
        return sum(1 for r in self.readings if not r[3])

    def document(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "unit": self.unit,
            "ranges": self.ranges,
            "start": self.start,
            "end": self.end,
            "readings": self.readings,
            "doses": self.doses,
            "illness": self.illness,
            "hypo_events": self.hypo_events,
        }


def _value_in(unit: str, value: float, entered_unit: str, factor: float) -> float:
    if entered_unit == unit:
        return value
    return round(value * factor, 0) if unit == MG_DL else round(value / factor, 1)


async def chart(*, session: AsyncSession, participant: Participant, days: int) -> Chart:
    """The chart of the last `days` days (one of SPANS) for a participant already loaded in scope."""
    protocol, _version = await protocol_for(session=session, study_id=participant.study_id)
    end = clock.now()
    start = end - timedelta(days=days)
    rows = (
        await session.execute(
            select(DiaryEntry.kind, DiaryEntry.occurred_at, DiaryEntry.data, DiaryEntry.flags)
            .where(
                col(DiaryEntry.participant_id) == participant.id,
                col(DiaryEntry.voided).is_(False),
                col(DiaryEntry.kind).in_(("glucose", "insulin", "illness", "hypo_event")),
                col(DiaryEntry.occurred_at) >= start,
                col(DiaryEntry.occurred_at) <= end,
            )
            .order_by(col(DiaryEntry.occurred_at))
        )
    ).all()
    units = Counter(data["unit"] for kind, _at, data, _f in rows if kind == "glucose")
    unit = units.most_common(1)[0][0] if units else MMOL_L
    t = thresholds_for(protocol.glucose, unit)
    factor = protocol.glucose.mg_dl_per_mmol_l
    result = Chart(
        days=days,
        unit=unit,
        ranges={
            "fasting_low": t.fasting_low,
            "fasting_high": t.fasting_high,
            "postprandial_limit": t.postprandial_limit,
            "hypo_level1": t.hypo_level1,
            "hypo_level2": t.hypo_level2,
        },
        start=_epoch(start),
        end=_epoch(end),
    )
    for kind, at, data, flags in rows:
        if kind == "glucose":
            value = _value_in(unit, float(data["value"]), data["unit"], factor)
            result.readings.append([_epoch(at), value, data.get("context"), is_out_of_range(flags)])
        elif kind == "insulin":
            result.doses.append([_epoch(at), data["units"], data.get("purpose")])
        elif kind == "illness":
            ended = data.get("ended_at")
            until = datetime.fromisoformat(ended) if ended else at + timedelta(hours=ILLNESS_DEFAULT_HOURS)
            result.illness.append([_epoch(at), _epoch(until)])
        else:
            result.hypo_events.append(_epoch(at))
    return result


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
