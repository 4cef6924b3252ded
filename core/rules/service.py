"""Runs the protocol rules after every diary write: flags for the entry, alerts for clinicians.

The diary service calls `evaluate_entry` in the same transaction as the write, so an entry, the alerts it
raised and the messages they queue commit (or roll back) together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.alerts import AlertCategory, CauseStatus
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
from core.rules.dose_review import Suggestion
from core.rules.lookups import (
    JUDGED_KINDS,
    DiaryEntryLike,
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

    def names(self, alert_id: uuid.UUID) -> None:
        if alert_id not in self.alert_ids:
            self.alert_ids.append(alert_id)


@dataclass
class Judgement:
    """One entry of an evaluation and what the rules found for it."""

    entry: DiaryEntryLike
    previous: dict[str, Any] | None = None  # the prior version's snapshot (edits and voids)
    known: set[str] | None = None  # the flags it had already (re-judging): only the others raise alerts
    outcome: RuleOutcome = field(default_factory=RuleOutcome)
    conditions: list[alerts.Condition] = field(default_factory=list)  # the alerts it raises or joins
    patterns: list[str] = field(default_factory=list)  # the flags it brings to the dose-review patterns
    reviews: bool = False  # it can complete a dose-review pattern: the window is read for it


async def evaluate_entry(
    *,
    session: AsyncSession,
    participant: Participant,
    entry: DiaryEntryLike,
    previous: dict[str, Any] | None = None,
    protocol: tuple[ProtocolSettings, int] | None = None,
) -> RuleOutcome:
    """Classify a just-written (flushed) entry and raise or join the alerts it causes.

    `previous` is the prior version's snapshot for edits and voids (None for a new entry): alerts that the
    entry caused record the change and stay open for a clinician to resolve. `protocol`: the protocol in force
    and its version, when the caller read it already.
    """
    outcomes = await _evaluate(
        session=session,
        participant=participant,
        entries=[Judgement(entry, previous)],
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
        session=session, participant=participant, entries=[Judgement(e) for e in entries], given=protocol
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
    upcoming = [Judgement(_NextVersion(r), known=flags) for r, flags in zip(readings, known, strict=True)]
    outcomes = await _evaluate(session=session, participant=participant, entries=upcoming)
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


@dataclass
class _Evaluation:
    """What one evaluation reads once for all its entries: the protocol and, for a batch, the meals."""

    session: AsyncSession
    participant: Participant
    protocol: ProtocolSettings | None = None
    version: int = 0
    meals: MealIndex | None = None  # a batch's meals, read once

    async def meals_around(self, entry: DiaryEntryLike) -> tuple[datetime | None, datetime | None]:
        """(the last meal before the reading, its linked meal); the protocol too when not read yet, in the
        same round trip."""
        if self.meals is not None:
            latest, linked = self.meals.around(entry)
            if linked is None and needs_meals(entry) and entry.data.get("meal_id"):
                linked = await self.meals.linked(
                    session=self.session, participant=self.participant, entry=entry
                )
            return latest, linked
        found, latest, linked = await lookups(
            session=self.session,
            participant=self.participant,
            entry=entry,
            with_version=self.protocol is None,
        )
        if self.protocol is None:
            assert found is not None
            self.version = found
            self.protocol = await settings_of(
                session=self.session, study_id=self.participant.study_id, version=found
            )
        return latest, linked


async def _evaluate(
    *,
    session: AsyncSession,
    participant: Participant,
    entries: list[Judgement],
    given: tuple[ProtocolSettings, int] | None = None,
) -> list[RuleOutcome]:
    """Judge each entry, then run the dose-review patterns the entries can complete, then raise or join the
    alerts. `given`: the protocol and its version, read by the caller."""
    evaluation = _Evaluation(session, participant)
    if given is not None:
        evaluation.protocol, evaluation.version = given
    judged = [j.entry for j in entries if not j.entry.voided and j.entry.kind in JUDGED_KINDS]
    if len(judged) > 1:
        # a batch: the protocol version and every meal the readings can refer to, in two queries in all
        if evaluation.protocol is None:
            evaluation.protocol, evaluation.version = await protocol_for(
                session=session, study_id=participant.study_id
            )
        evaluation.meals = await MealIndex.load(session=session, participant=participant, entries=judged)
    for judgement in entries:
        await _judge(evaluation, judgement)
    if evaluation.protocol is not None:
        await _review_doses(evaluation, entries)
        await _raise_alerts(evaluation, entries)
    return [j.outcome for j in entries]


async def _judge(evaluation: _Evaluation, judgement: Judgement) -> None:
    """The entry's flags, the safety alerts they raise, and the flags it brings to the patterns."""
    entry, previous = judgement.entry, judgement.previous
    if previous is not None and cause_changed(entry, previous):
        judgement.outcome.alert_ids += await alerts.record_cause_change(
            session=evaluation.session, entry_id=entry.id, version=entry.version, voided=entry.voided
        )
    if entry.voided:
        # a void keeps the flags the entry had: the record stays as it was, only out of every count
        judgement.outcome.flags = list((previous or {}).get("flags") or [])
        return
    if entry.kind not in JUDGED_KINDS:
        return
    latest, linked = await evaluation.meals_around(entry)
    protocol = evaluation.protocol
    assert protocol is not None
    flags = classify.classify_entry(
        kind=entry.kind,
        data=entry.data,
        local_date=entry.local_date,
        timing=meal_timing(entry, latest, linked, protocol),
        birth_date=evaluation.participant.birth_date,
        protocol=protocol,
    )
    judgement.outcome.flags = flags
    known = judgement.known
    fresh = flags if known is None else [f for f in flags if f not in known]
    if fresh or known is None:
        judgement.conditions = safety_conditions(entry, fresh, protocol)
    # re-judged after a meal: the meal-dependent flags feed the patterns again even when unchanged, since
    # what they are paired with changed (the meal type a postprandial value follows, say)
    judgement.patterns = [f for f in flags if f in fresh or f in MEAL_DEPENDENT_FLAGS]
    judgement.reviews = dose_review_applies(entry, judgement.patterns)


async def _review_doses(evaluation: _Evaluation, judgements: list[Judgement]) -> None:
    """The dose-review suggestions the entries complete, on one window read for all of them."""
    reviewing = [j for j in judgements if j.reviews]
    protocol = evaluation.protocol
    if not reviewing or protocol is None:
        return
    chosen = [j.entry for j in reviewing]
    window = await load_window(
        session=evaluation.session,
        participant_id=evaluation.participant.id,
        first_day=min(e.local_date for e in chosen),
        today=max(e.local_date for e in chosen),
        span=(min(e.occurred_at for e in chosen), max(e.occurred_at for e in chosen)),
        protocol=protocol,
        evaluated=[_evaluated(j) for j in judgements if not j.entry.voided],
    )
    current = {j.entry.id: j.outcome.flags for j in judgements if j.outcome.flags}
    memo: dict[Any, Any] = {}
    made: dict[int, alerts.Condition] = {}  # by the (memoised) suggestion it was made of
    for judgement in reviewing:
        window.today = judgement.entry.local_date
        for suggestion in dose_review_suggestions(
            window, judgement.entry, judgement.patterns, protocol, memo
        ):
            if id(suggestion) not in made:
                made[id(suggestion)] = await _dose_review_condition(evaluation, suggestion, current)
            judgement.conditions.append(made[id(suggestion)])


def _evaluated(judgement: Judgement) -> Evaluated:
    e = judgement.entry
    return Evaluated(
        e.id, e.kind, e.occurred_at, e.local_date, e.data, judgement.outcome.flags, e.utc_offset_minutes
    )


async def _dose_review_condition(
    evaluation: _Evaluation, suggestion: Suggestion, current: dict[uuid.UUID, list[str]]
) -> alerts.Condition:
    """The alert a suggestion raises; the window counts fasting days, and the readings themselves are read
    (once) when a rule that needs them fires."""
    assert evaluation.protocol is not None
    if suggestion.evidence_days:
        evidence = await fasting_evidence(
            session=evaluation.session,
            participant_id=evaluation.participant.id,
            days=suggestion.evidence_days,
            protocol=evaluation.protocol,
            current=current,
        )
        suggestion = with_fasting_evidence(suggestion, evidence)
    return alerts.Condition(
        suggestion.kind,
        AlertCategory.dose_review,
        suggestion.severity,
        suggestion.rule,
        suggestion.fold_key,
        suggestion.entry_ids,
        suggestion.details,
    )


async def _raise_alerts(evaluation: _Evaluation, judgements: list[Judgement]) -> None:
    """Raise or join each entry's alerts; the evidence an alert links names it too: in its own outcome when
    judged now, else (`evidence_of`) for the diary to add."""
    assert evaluation.protocol is not None
    by_id = {j.entry.id: j for j in judgements}
    versions = {j.entry.id: j.entry.version for j in judgements}  # the versions being written
    linked: dict[uuid.UUID, set[uuid.UUID]] = {}  # alert -> evidence linked in this evaluation
    for judgement in judgements:
        entry = judgement.entry
        for condition in judgement.conditions:
            alert, linked_now = await alerts.raise_or_join(
                session=evaluation.session,
                participant=evaluation.participant,
                condition=condition,
                protocol_version=evaluation.version,
                fold_hours=evaluation.protocol.alert_fold_hours,
                occurred_at=entry.occurred_at,
                trigger=(entry.id, entry.version),
                versions=versions,
                linked=linked,
            )
            judgement.outcome.names(alert.id)
            for entry_id in linked_now:
                other = by_id.get(entry_id)
                if other is None:
                    judgement.outcome.evidence_of.append((entry_id, alert.id))
                else:
                    other.outcome.names(alert.id)
