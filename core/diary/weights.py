"""The participant's body weight on a day, for IU/kg/day and IDAA1c (CLINICAL.md: "TDD / latest weight on or
before that day").

The rule: the weight on a participant-local day is the latest weighing on or before that day; before any
weighing, the enrolment weight. Weighings are the diary's weight entries (not voided; their `local_date`) and
the weights recorded on the participant (`participant_weight`: at enrolment, at visits; their local day in the
participant's time zone). Two on one day: the later one counts.

For reports (h11), three calls, simplest first:

    kg = await weight_on_day(session=s, participant=p, day=date(2026, 3, 2))          # float | None
    by_day = await weights_on_days(session=s, participant=p, days=[d1, d2, ...])      # {day: float | None}
    kg = weight_on(day, weighings, enrolment_kg)                                      # pure, no database

None only when the participant has no weight at all (no enrolment weight recorded and no weight entry yet).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.models.diary import DiaryEntry
from core.models.study import Participant, ParticipantWeight

ENROLMENT = "enrolment"


@dataclass(frozen=True, order=True)
class Weighing:
    """One weight: the participant-local day it counts on, the instant (orders two on one day), the kg."""

    day: date
    at: datetime
    kg: float


def weight_on(day: date, weighings: Iterable[Weighing], enrolment_kg: float | None) -> float | None:
    """The latest weighing on or before `day`, else `enrolment_kg`."""
    before = [w for w in weighings if w.day <= day]
    return max(before).kg if before else enrolment_kg


def weights_on(
    days: Iterable[date], weighings: Iterable[Weighing], enrolment_kg: float | None
) -> dict[date, float | None]:
    """`weight_on` for many days at once (sorted once, each day found by bisection)."""
    ordered = sorted(weighings)
    keys = [w.day for w in ordered]
    found: dict[date, float | None] = {}
    for day in days:
        position = bisect_right(keys, day)
        found[day] = ordered[position - 1].kg if position else enrolment_kg
    return found


async def weighings_of(
    *, session: AsyncSession, participant: Participant
) -> tuple[list[Weighing], float | None]:
    """Every weighing of the participant and the enrolment weight (two small queries)."""
    zone = ZoneInfo(participant.timezone)
    recorded = (
        await session.execute(
            select(ParticipantWeight.measured_at, ParticipantWeight.kg, ParticipantWeight.source).where(
                col(ParticipantWeight.participant_id) == participant.id
            )
        )
    ).all()
    diary = (
        await session.execute(
            select(col(DiaryEntry.local_date), col(DiaryEntry.occurred_at), col(DiaryEntry.data)).where(
                col(DiaryEntry.participant_id) == participant.id,
                col(DiaryEntry.kind) == "weight",
                col(DiaryEntry.voided).is_(False),
            )
        )
    ).all()
    weighings = [Weighing(at.astimezone(zone).date(), at, float(kg)) for at, kg, _ in recorded]
    weighings += [Weighing(day, at, float(data["kg"])) for day, at, data in diary]
    at_enrolment = sorted((at, kg) for at, kg, source in recorded if source == ENROLMENT)
    return weighings, (float(at_enrolment[-1][1]) if at_enrolment else None)


async def weight_on_day(*, session: AsyncSession, participant: Participant, day: date) -> float | None:
    """The participant's weight (kg) on a local day: the latest weighing on or before it, else the enrolment
    weight."""
    weighings, enrolment_kg = await weighings_of(session=session, participant=participant)
    return weight_on(day, weighings, enrolment_kg)


async def weights_on_days(
    *, session: AsyncSession, participant: Participant, days: Sequence[date]
) -> dict[date, float | None]:
    """`weight_on_day` for each of `days`, read once."""
    weighings, enrolment_kg = await weighings_of(session=session, participant=participant)
    return weights_on(days, weighings, enrolment_kg)
