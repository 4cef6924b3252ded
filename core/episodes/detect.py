"""The hypoglycemia episode detector of CLINICAL.md A2: one participant's readings and events in, episodes out.

Pure: no database, no clock. Every number comes from the protocol (EpisodeRules, GlucoseRules), and a reading
is judged low in the unit it was entered in with the protocol's operator (core.rules.classify, reused).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.models.reports import EpisodeCategory
from core.protocol import ProtocolSettings
from core.rules.classify import HYPO_L1, HYPO_L2, MealTiming, classify_glucose, is_severe_event

SEVERE = EpisodeCategory.severe
DOCUMENTED_SYMPTOMATIC = EpisodeCategory.documented_symptomatic
ASYMPTOMATIC = EpisodeCategory.asymptomatic
PROBABLE_SYMPTOMATIC = EpisodeCategory.probable_symptomatic
CATEGORIES = (SEVERE, DOCUMENTED_SYMPTOMATIC, ASYMPTOMATIC, PROBABLE_SYMPTOMATIC)
# reported, never counted as an episode (A2.6)
PSEUDO_HYPOGLYCEMIA = EpisodeCategory.pseudo_hypoglycemia
# an event with neither symptoms, nor help, nor a low value: nothing backs it up as hypoglycemia
UNCONFIRMED = EpisodeCategory.unconfirmed


@dataclass(frozen=True)
class Reading:
    """A glucose reading that is not voided, as entered (value, unit) and canonical (mg/dL)."""

    entry_id: uuid.UUID
    occurred_at: datetime
    local_date: date
    value: float
    unit: str
    value_mg_dl: float


@dataclass(frozen=True)
class HypoEvent:
    """A self-reported hypoglycemia event (diary kind hypo_event) that is not voided."""

    entry_id: uuid.UUID
    occurred_at: datetime
    local_date: date
    symptoms: bool
    needed_assistance: bool = False
    treatment: tuple[str, ...] = ()
    unconscious_or_seizure: bool = False
    glucose_entry_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Episode:
    start: datetime
    end: datetime
    start_local_date: date
    level: int
    category: EpisodeCategory
    nadir_value: float | None
    nadir_unit: str | None
    nadir_mg_dl: float | None
    readings: int
    entry_ids: tuple[uuid.UUID, ...]
    event_ids: tuple[uuid.UUID, ...]
    needed_assistance: bool
    counted: bool = True


@dataclass
class _Open:
    """An episode being built from readings: (reading, level) pairs, level 0 for a re-check at or above the
    threshold between two lows; `first_high` is the first such reading since the latest low (the separation
    clock) and `pending` the readings since then, which join only if another low follows in time."""

    members: list[tuple[Reading, int]]
    last_low: datetime
    first_high: datetime | None = None
    pending: list[tuple[Reading, int]] = field(default_factory=list)
    events: list[HypoEvent] = field(default_factory=list)


def reading_level(reading: Reading, protocol: ProtocolSettings) -> int:
    """2 or 1 when the reading is low (A1, judged in its own unit), 0 otherwise."""
    flags = classify_glucose(
        value=reading.value, unit=reading.unit, context="random", timing=MealTiming(), rules=protocol.glucose
    )
    if HYPO_L2 in flags:
        return 2
    return 1 if HYPO_L1 in flags else 0


def _group_readings(readings: Sequence[Reading], protocol: ProtocolSettings) -> list[_Open]:
    """A2 rules 1-3: lows open and extend episodes; a rise ends one unless a low follows within the
    separation time; a low after more than the maximum gap with no reading between opens a new one."""
    rules = protocol.episodes
    separation = timedelta(minutes=rules.separation_minutes)
    max_gap = timedelta(minutes=rules.max_gap_minutes)
    groups: list[_Open] = []
    current: _Open | None = None
    for reading in sorted(readings, key=lambda r: (r.occurred_at, str(r.entry_id))):
        level = reading_level(reading, protocol)
        if level == 0:
            if current is not None:
                current.first_high = current.first_high or reading.occurred_at
                current.pending.append((reading, 0))
                if reading.occurred_at - current.first_high > separation:
                    current = None  # back above the threshold for the separation time: it ended
            continue
        continues = current is not None and (
            reading.occurred_at - current.first_high <= separation
            if current.first_high is not None
            else reading.occurred_at - current.last_low <= max_gap
        )
        if current is not None and continues:
            # re-checks above the threshold inside the episode belong to it
            current.members.extend(current.pending)
            current.members.append((reading, level))
            current.last_low = reading.occurred_at
            current.first_high = None
            current.pending = []
        else:
            current = _Open(members=[(reading, level)], last_low=reading.occurred_at)
            groups.append(current)
    return groups


def _distance(group: _Open, at: datetime) -> timedelta:
    start, end = group.members[0][0].occurred_at, group.last_low
    if at < start:
        return start - at
    return at - end if at > end else timedelta(0)


def _episode_of(group: _Open, severe_ids: set[uuid.UUID]) -> Episode:
    """A2 rules 5 and 6: worst level (3 if a linked event was severe), nadir, category."""
    lows = [r for r, level in group.members if level > 0]
    nadir = min(lows, key=lambda r: (r.value_mg_dl, r.occurred_at))
    severe = any(e.entry_id in severe_ids for e in group.events)
    symptomatic = any(e.symptoms for e in group.events)
    category = SEVERE if severe else DOCUMENTED_SYMPTOMATIC if symptomatic else ASYMPTOMATIC
    first = group.members[0][0]
    return Episode(
        start=first.occurred_at,
        end=group.last_low,
        start_local_date=first.local_date,
        level=3 if severe else max(level for _, level in group.members),
        category=category,
        nadir_value=nadir.value,
        nadir_unit=nadir.unit,
        nadir_mg_dl=nadir.value_mg_dl,
        readings=len(group.members),
        entry_ids=tuple(r.entry_id for r, _ in group.members),
        event_ids=tuple(e.entry_id for e in group.events),
        needed_assistance=any(e.needed_assistance for e in group.events),
    )


def _own_episode(event: HypoEvent, linked: Reading | None, severe: bool) -> Episode:
    """A2 rule 4, second half: an event near no episode stands alone, with its linked glucose value if any."""
    symptomatic = event.symptoms
    if severe:
        category, counted = SEVERE, True
    elif linked is not None:
        # the linked value is not low (a low one is in an episode): symptoms with a normal value
        category, counted = (PSEUDO_HYPOGLYCEMIA if symptomatic else UNCONFIRMED), False
    elif symptomatic:
        category, counted = PROBABLE_SYMPTOMATIC, True
    else:
        category, counted = UNCONFIRMED, False
    return Episode(
        start=event.occurred_at,
        end=event.occurred_at,
        start_local_date=event.local_date,
        # without a measurement a probable event is presumed below the level 1 threshold (ADA 2005)
        level=3 if severe else 1,
        category=category,
        nadir_value=linked.value if linked else None,
        nadir_unit=linked.unit if linked else None,
        nadir_mg_dl=linked.value_mg_dl if linked else None,
        readings=1 if linked else 0,
        entry_ids=(linked.entry_id,) if linked else (),
        event_ids=(event.entry_id,),
        needed_assistance=event.needed_assistance,
        counted=counted,
    )


def detect(
    readings: Iterable[Reading],
    events: Iterable[HypoEvent],
    *,
    birth_date: date | None,
    protocol: ProtocolSettings,
) -> list[Episode]:
    """Every episode (counted or not), oldest first. Uncounted ones (pseudo-hypoglycemia, unconfirmed) carry
    `counted=False`; endpoint counts and the episode list use the counted ones only."""
    readings = list(readings)
    by_id = {r.entry_id: r for r in readings}
    groups = _group_readings(readings, protocol)
    in_group = {r.entry_id: g for g in groups for r, _ in g.members}
    link = timedelta(minutes=protocol.episodes.event_link_minutes)
    severe_ids: set[uuid.UUID] = set()
    alone: list[Episode] = []
    for event in sorted(events, key=lambda e: (e.occurred_at, str(e.entry_id))):
        severe = is_severe_event(
            data=_event_data(event), birth_date=birth_date, local_date=event.local_date, protocol=protocol
        )
        if severe:
            severe_ids.add(event.entry_id)
        linked = by_id.get(event.glucose_entry_id) if event.glucose_entry_id else None
        target = in_group.get(linked.entry_id) if linked is not None else None
        if target is None:
            near = [g for g in groups if _distance(g, event.occurred_at) <= link]
            target = min(near, key=lambda g: _distance(g, event.occurred_at), default=None)
        if target is not None:
            target.events.append(event)
        else:
            alone.append(_own_episode(event, linked, severe))
    episodes = [_episode_of(g, severe_ids) for g in groups] + alone
    return sorted(episodes, key=lambda e: (e.start, e.event_ids, e.entry_ids))


def _event_data(event: HypoEvent) -> dict[str, object]:
    return {
        "needed_assistance": event.needed_assistance,
        "treatment": list(event.treatment),
        "unconscious_or_seizure": event.unconscious_or_seizure,
    }
