"""The demo diary: 90 days of realistic entries for the three demo participants, written through the diary
service (so the protocol rules flag readings and raise alerts exactly as for a phone).

- MS-001 (7, her mother logs in mmol/L): small doses, a few lows, one night-time hypoglycemia that needed her
  mother's help and glucagon (a level 3 event).
- MS-002 (15, logs himself in mg/dL): steady doses, football three times a week, a stomach bug with raised
  ketones (1.8 mmol/L) in the middle of the period.
- MS-003 (26, mg/dL): a treatment responder: basal and meal insulin fall by more than half over the 90 days while
  fasting glucose stays in range; his first week was typed in from the paper diary by the coordinator.
Deterministic: a seeded random generator per participant; fast: one batch per participant and actor.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.access import Actor
from core.diary import batch as diary_batch
from core.diary import service as diary_service
from core.models.people import User
from core.models.study import Participant

ZONE = ZoneInfo("Europe/Ljubljana")
DAYS = 90
MMOL = 18.016


@dataclass(frozen=True)
class Profile:
    seed: int
    mmol: bool  # the family's meter shows mmol/L
    fasting_mean: float  # mg/dL
    low_chance: float  # share of fasting readings that are low
    high_chance: float  # share of post-meal readings clearly above the limit
    basal: tuple[float, float]  # units on day 0 and on day 90
    meal: tuple[float, float]
    exercise_days: tuple[int, ...]  # weekdays (0 = Monday)
    activity: str
    kg: float


PROFILES = {
    "child": Profile(1, True, 102, 0.06, 0.12, (5.0, 4.5), (2.0, 2.0), (2, 5), "playground", 24.0),
    "teen": Profile(2, False, 106, 0.03, 0.2, (18.0, 19.0), (6.0, 6.5), (0, 2, 4), "football", 55.0),
    "adult": Profile(3, False, 104, 0.03, 0.08, (14.0, 5.0), (6.0, 2.0), (1, 3, 6), "walking", 72.0),
}


class _Diary:
    """Entries of one participant, in the shape a phone sends them."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rng = random.Random(profile.seed)
        self.entries: list[dict[str, Any]] = []

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, kind: str, at: datetime, **fields: Any) -> str:
        entry_id = self.new_id()
        entered = at + timedelta(minutes=self.rng.randint(1, 20))
        self.entries.append(
            {
                "id": entry_id,
                "kind": kind,
                "occurred_at": at.isoformat(),
                "entered_at": entered.isoformat(),
                **fields,
            }
        )
        return entry_id

    def glucose(self, at: datetime, mg_dl: float, context: str, **fields: Any) -> str:
        mg_dl = min(max(mg_dl, 40), 400)
        if self.profile.mmol:
            value: float = round(mg_dl / MMOL, 1)
            unit = "mmol/L"
        else:
            value, unit = round(mg_dl), "mg/dL"
        return self.add("glucose", at, value=value, unit=unit, context=context, source="meter", **fields)


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def _dose(span: tuple[float, float], progress: float, rng: random.Random) -> float:
    start, end = span
    return round(max(0.5, start + (end - start) * progress + rng.uniform(-0.5, 0.5)) * 2) / 2


def _day(diary: _Diary, day: date, progress: float) -> None:
    p, rng = diary.profile, diary.rng
    wake = rng.randint(0, 40)
    fasting = rng.gauss(p.fasting_mean, 12)
    if rng.random() < p.low_chance:
        fasting = rng.uniform(50, 68)
    diary.glucose(_at(day, 6, 50 + wake % 10), fasting, "fasting")
    for meal_type, hour, carbs in (("breakfast", 7, 45), ("lunch", 12, 60), ("dinner", 18, 70)):
        start = _at(day, hour, 20 + rng.randint(0, 25))
        meal_id = diary.add("meal", start, meal_type=meal_type, carbs_g=carbs + rng.randint(-15, 20))
        diary.add(
            "insulin",
            start - timedelta(minutes=10),
            units=_dose(p.meal, progress, rng),
            insulin_type="rapid",
            purpose="meal",
            product="insulin aspart",
            delivery="pen",
        )
        if meal_type != "lunch" or rng.random() < 0.3:
            after = rng.choice((90, 105, 120))
            value = rng.gauss(128, 14) if rng.random() > p.high_chance else rng.uniform(150, 230)
            diary.glucose(
                start + timedelta(minutes=after),
                value,
                "postprandial",
                minutes_after_meal=after,
                meal_id=meal_id,
            )
    if rng.random() < 0.4:
        diary.glucose(_at(day, 21, 30), rng.gauss(125, 20), "bedtime")
    diary.add(
        "insulin",
        _at(day, 21, 45),
        units=_dose(p.basal, progress, rng),
        insulin_type="long",
        purpose="basal",
        product="insulin glargine",
        delivery="pen",
    )
    if day.weekday() in p.exercise_days:
        diary.add(
            "exercise",
            _at(day, 16, rng.randint(0, 30)),
            activity=p.activity,
            duration_min=rng.choice((45, 60, 75, 90)),
            intensity=rng.choice(("moderate", "moderate", "vigorous")),
        )
    if day.day == 1:
        diary.add("weight", _at(day, 7, 5), kg=round(p.kg + rng.uniform(-0.8, 0.8), 1))


def _events(key: str, diary: _Diary, first_day: date) -> None:
    if key == "child":
        night = first_day + timedelta(days=65)
        low = diary.glucose(_at(night, 3, 10), 2.6 * MMOL, "overnight")
        diary.add(
            "hypo_event",
            _at(night, 3, 5),
            symptoms=True,
            symptom_list=["sweating", "confusion"],
            needed_assistance=True,
            treatment=["oral_carbohydrate", "glucagon"],
            unconscious_or_seizure=False,
            glucose_entry_id=low,
            note="Woke up sweaty and confused; gave glucagon, juice when she could drink.",
        )
        diary.glucose(_at(night, 3, 25), 4.4 * MMOL, "overnight", note="re-check after treatment")
    if key == "teen":
        sick = first_day + timedelta(days=48)
        diary.add(
            "illness",
            _at(sick, 8, 0),
            illness_type="gastrointestinal",
            severity="moderate",
            ended_at=_at(sick + timedelta(days=3), 18, 0).isoformat(),
            ketones_mmol_l=1.8,
            hospital_visit=False,
            note="Vomiting and diarrhoea; sick-day plan, extra fluids.",
        )
        diary.glucose(_at(sick, 8, 10), 232, "random")


async def load_diary(*, session: AsyncSession, people: Any) -> int:
    """Write the demo diary for `people` (core.demo.people.DemoPeople); returns the number of entries stored."""
    today = clock.now().astimezone(ZONE).date()
    first_day = today - timedelta(days=DAYS)
    stored = 0
    for key, participant in people.participants.items():
        diary = _Diary(PROFILES[key])
        for offset in range(DAYS):
            _day(diary, first_day + timedelta(days=offset), offset / DAYS)
        _events(key, diary, first_day)
        enterer = people.guardian if key == "child" else await _login_of(session, participant)
        paper, phone = diary.entries, []
        if key == "adult":  # the first week came from the paper diary, typed in by the coordinator
            cut = (first_day + timedelta(days=7)).isoformat()
            paper = [e for e in diary.entries if e["occurred_at"] < cut]
            phone = [e for e in diary.entries if e["occurred_at"] >= cut]
            for entry in paper:
                entry["note"] = "from the paper diary"
                del entry["entered_at"]
            stored += await _write(session, people.coordinator, participant, paper)
            paper = phone
        stored += await _write(session, enterer, participant, paper)
        await _corrections(session, enterer, participant, diary)
    return stored


async def _login_of(session: AsyncSession, participant: Participant) -> User:
    user = await session.get(User, participant.user_id)
    assert user is not None, f"demo participant {participant.subject_code} has no login"
    return user


async def _write(
    session: AsyncSession, user: User, participant: Participant, items: list[dict[str, Any]]
) -> int:
    created = 0
    for start in range(0, len(items), 1000):
        results = await diary_batch.record_batch(
            session=session,
            actor=Actor.of(user),
            participant=participant,
            entries_in=items[start : start + 1000],
        )
        rejected = [r for r in results if r["status"] == "rejected"]
        assert not rejected, f"demo diary entry refused: {rejected[0]}"
        created += len(results)
    return created


async def _corrections(session: AsyncSession, user: User, participant: Participant, diary: _Diary) -> None:
    """A typo corrected and a reading voided, so the demo shows histories with reasons."""
    readings = [e for e in diary.entries if e["kind"] == "glucose" and e["context"] == "fasting"]
    actor = Actor.of(user)
    typo, mistake = readings[20], readings[30]
    changed = round(typo["value"] + (0.3 if diary.profile.mmol else 4), 1)
    await diary_service.edit_entry(
        session=session,
        actor=actor,
        participant=participant,
        entry_id=uuid.UUID(typo["id"]),
        changes={"version": 1, "reason": "typed the wrong digit", "value": changed},
    )
    await diary_service.void_entry(
        session=session,
        actor=actor,
        participant=participant,
        entry_id=uuid.UUID(mistake["id"]),
        reason="measured with control solution, not blood",
    )
