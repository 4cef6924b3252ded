"""Runs the protocol rules after every diary write: flags for the entry, alerts for clinicians.

The diary service calls `evaluate_entry` in the same transaction as the write, so an entry, the alerts it
raised and the messages they queue commit (or roll back) together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.alerts import AlertCategory, CauseStatus, Severity
from core.models.study import Participant
from core.protocol import ProtocolSettings
from core.rules import alerts, classify
from core.rules.conditions import (
    MEAL_DEPENDENT_FLAGS,
    cause_changed,
    dose_review_applies,
    dose_review_suggestions,
    safety_conditions,
    with_fasting_evidence,
)
from core.rules.lookups import (
    JUDGED_KINDS,
    DiaryEntryLike,
    Lookups,
    MealIndex,
    lookups,
    meal_timing,
    needs_meals,
    protocol_for,
    settings_of,
)
from core.rules.window import Evaluated, fasting_evidence, load_window


@dataclass
class RuleOutcome:
    """The entry's flags (stored on it by the diary) and the alerts it raised or joined.

    `evidence_of`: (entry, alert) pairs of stored entries, not judged now, that an alert of this entry linked
    as evidence of a pattern: the diary adds the alert to their `alerts` as well.
    """

    flags: list[str] = field(default_factory=list)
    alert_ids: list[uuid.UUID] = field(default_factory=list)
    evidence_of: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)


async def evaluate_entry(
    *,
    session: AsyncSession,
    participant: Participant,
    entry: DiaryEntryLike,
    previous: dict[str, Any] | None = None,
    prefetched: Lookups | None = None,
    protocol: tuple[ProtocolSettings, int] | None = None,
) -> RuleOutcome:
    """Classify a just-written (flushed) entry and raise or join the alerts it causes.

    `previous` is the prior version's snapshot for edits and voids (None for a new entry): alerts that the
    entry caused record the change and stay open for a clinician to resolve. `prefetched`: what the rules
    would read, already read by the caller's statement (`prefetch`). `protocol`: the protocol in force and
    its version, when the caller read it already.
    """
    outcomes = await _evaluate(
        session=session,
        participant=participant,
        entries=[(entry, previous)],
        prefetched=prefetched,
        given=protocol,
    )
    return outcomes[0]


async def evaluate_entries(
    *,
    session: AsyncSession,
    participant: Participant,
    entries: Sequence[DiaryEntryLike],
    protocol: tuple[ProtocolSettings, int] | None = None,
) -> list[RuleOutcome]:
    """`evaluate_entry` for each new entry of a batch, in the order given; the pattern window is read once."""
    return await _evaluate(
        session=session, participant=participant, entries=[(e, None) for e in entries], given=protocol
    )


async def rejudge_readings(
    *, session: AsyncSession, participant: Participant, readings: Sequence[DiaryEntryLike]
) -> list[RuleOutcome]:
    """Judge stored readings again after a meal near them was logged, moved or voided.

    Only what is new raises anything: a flag the reading already had (a low value, say) joins or raises no
    alert again, so a resolved alert is not reopened by a meal logged later. A dose-review alert whose reading
    lost the flag that made it part of the pattern records the change and stays for the clinician.
    """
    known = [set(getattr(r, "flags", None) or []) for r in readings]
    # judged as the version a change of flags makes (alert links name the version that caused them)
    upcoming = [_NextVersion(r) for r in readings]
    outcomes = await _evaluate(
        session=session, participant=participant, entries=[(r, None) for r in upcoming], known=known
    )
    for reading, before, outcome in zip(readings, known, outcomes, strict=True):
        lost = (before - set(outcome.flags)) & MEAL_DEPENDENT_FLAGS
        if lost:
            outcome.alert_ids += await alerts.record_cause_change(
                session=session,
                entry_id=reading.id,
                version=reading.version + 1,
                voided=False,
                change=CauseStatus.rejudged,
                category=AlertCategory.dose_review,
            )
    return outcomes


class _NextVersion:
    """A stored entry as its next version would be: its own fields, the version number after it."""

    def __init__(self, entry: DiaryEntryLike) -> None:
        self._entry = entry
        self.version = entry.version + 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry, name)


async def _evaluate(
    *,
    session: AsyncSession,
    participant: Participant,
    entries: list[tuple[DiaryEntryLike, dict[str, Any] | None]],
    known: list[set[str]] | None = None,
    prefetched: Lookups | None = None,
    given: tuple[ProtocolSettings, int] | None = None,
) -> list[RuleOutcome]:
    """`known`: flags each entry already had (re-judging); only flags outside them raise alerts.
    `prefetched`: the lookups of a single entry, read by the caller (see `prefetch`); `given`: the protocol
    and its version, read by the caller."""
    outcomes = [RuleOutcome() for _ in entries]
    if not entries:
        return outcomes
    protocol: ProtocolSettings | None = given[0] if given else None
    version = given[1] if given else 0
    meals: MealIndex | None = None
    judged = [e for e, _ in entries if not e.voided and e.kind in JUDGED_KINDS]
    if len(judged) > 1:
        # a batch: the protocol version and every meal the readings can refer to, in two queries in all
        if protocol is None:
            protocol, version = await protocol_for(session=session, study_id=participant.study_id)
        meals = await MealIndex.load(session=session, participant=participant, entries=judged)
    conditions: list[list[alerts.Condition]] = [[] for _ in entries]
    patterns: list[list[str]] = [[] for _ in entries]  # the flags each entry brings to the pattern rules
    patterned: list[int] = []
    for i, (entry, previous) in enumerate(entries):
        if previous is not None and cause_changed(entry, previous):
            outcomes[i].alert_ids += await alerts.record_cause_change(
                session=session, entry_id=entry.id, version=entry.version, voided=entry.voided
            )
        if entry.voided:
            # a void keeps the flags the entry had: the record stays as it was, only out of every count
            outcomes[i].flags = list((previous or {}).get("flags") or [])
            continue
        if entry.kind not in JUDGED_KINDS:
            continue
        if meals is not None:
            latest, linked = meals.around(entry)
            if linked is None and needs_meals(entry) and entry.data.get("meal_id"):
                linked = await meals.linked(session=session, participant=participant, entry=entry)
        else:
            if prefetched is not None and len(entries) == 1:
                found, latest, linked = prefetched
            else:
                found, latest, linked = await lookups(
                    session=session, participant=participant, entry=entry, with_version=protocol is None
                )
            if protocol is None:
                assert found is not None
                version = found
                protocol = await settings_of(session=session, study_id=participant.study_id, version=version)
        assert protocol is not None
        timing = meal_timing(entry, latest, linked, protocol)
        flags = classify.classify_entry(
            kind=entry.kind,
            data=entry.data,
            local_date=entry.local_date,
            timing=timing,
            birth_date=participant.birth_date,
            protocol=protocol,
        )
        outcomes[i].flags = flags
        fresh = [f for f in flags if f not in known[i]] if known is not None else flags
        conditions[i] = safety_conditions(entry, fresh, protocol) if fresh or known is None else []
        # re-judged after a meal: the meal-dependent flags feed the patterns again even when unchanged, since
        # what they are paired with changed (the meal type a postprandial value follows, say)
        patterns[i] = [f for f in flags if f in fresh or f in MEAL_DEPENDENT_FLAGS]
        if dose_review_applies(entry, patterns[i]):
            patterned.append(i)
    if protocol is None:
        return outcomes
    if patterned:
        chosen = [entries[i][0] for i in patterned]
        current = {entries[i][0].id: outcomes[i].flags for i in range(len(entries)) if outcomes[i].flags}
        window = await load_window(
            session=session,
            participant_id=participant.id,
            first_day=min(e.local_date for e in chosen),
            today=max(e.local_date for e in chosen),
            span=(min(e.occurred_at for e in chosen), max(e.occurred_at for e in chosen)),
            protocol=protocol,
            evaluated=[
                Evaluated(
                    e.id, e.kind, e.occurred_at, e.local_date, e.data, outcomes[i].flags, e.utc_offset_minutes
                )
                for i, (e, _) in enumerate(entries)
                if not e.voided
            ],
        )
        memo: dict[Any, Any] = {}
        made: dict[int, alerts.Condition] = {}  # by the (memoised) suggestion it was made of
        for i in patterned:
            entry = entries[i][0]
            window.today = entry.local_date
            for suggestion in dose_review_suggestions(window, entry, patterns[i], protocol, memo):
                if id(suggestion) in made:
                    conditions[i].append(made[id(suggestion)])
                    continue
                complete = suggestion
                if suggestion.evidence_days:
                    # the window counts fasting days; the readings themselves are read once a rule fires
                    evidence = await fasting_evidence(
                        session=session,
                        participant_id=participant.id,
                        days=suggestion.evidence_days,
                        protocol=protocol,
                        current=current,
                    )
                    complete = with_fasting_evidence(suggestion, evidence)
                made[id(suggestion)] = alerts.Condition(
                    complete.kind,
                    AlertCategory.dose_review,
                    Severity(complete.severity),
                    complete.rule,
                    complete.fold_key,
                    complete.entry_ids,
                    complete.details,
                )
                conditions[i].append(made[id(suggestion)])
    position = {e.id: i for i, (e, _) in enumerate(entries)}
    versions = {e.id: e.version for e, _ in entries}  # the versions being written (a re-judged one's next)
    evidence_linked: dict[uuid.UUID, set[uuid.UUID]] = {}  # alert -> evidence linked in this evaluation
    for i, (entry, _previous) in enumerate(entries):
        for condition in conditions[i]:
            alert, linked_now = await alerts.raise_or_join(
                session=session,
                participant=participant,
                condition=condition,
                protocol_version=version,
                fold_hours=protocol.alert_fold_hours,
                occurred_at=entry.occurred_at,
                trigger=(entry.id, entry.version),
                versions=versions,
                linked=evidence_linked,
            )
            if alert.id not in outcomes[i].alert_ids:
                outcomes[i].alert_ids.append(alert.id)
            # the evidence names the alert too: in its own outcome if judged now, else for the diary to add
            for entry_id in linked_now:
                j = position.get(entry_id)
                if j is None:
                    outcomes[i].evidence_of.append((entry_id, alert.id))
                elif alert.id not in outcomes[j].alert_ids:
                    outcomes[j].alert_ids.append(alert.id)
    return outcomes
