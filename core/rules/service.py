"""Runs the protocol rules after every diary write: flags for the entry, alerts for clinicians.

The diary service calls `evaluate_entry` in the same transaction as the write, so an entry, the alerts it
raised and the messages they queue commit (or roll back) together.
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import bindparam, null
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.config import get_settings
from core.models.alerts import AlertCategory, CauseStatus, Severity
from core.models.diary import DiaryEntry
from core.models.study import Participant, ProtocolVersion, Study
from core.protocol import ProtocolSettings
from core.rules import alerts, classify, dose_review
from core.rules.window import Evaluated, fasting_evidence, load_window


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
    """The entry's flags (stored on it by the diary) and the alerts it raised or joined.

    `evidence_of`: (entry, alert) pairs of stored entries, not judged now, that an alert of this entry linked
    as evidence of a pattern: the diary adds the alert to their `alerts` as well.
    """

    flags: list[str] = field(default_factory=list)
    alert_ids: list[uuid.UUID] = field(default_factory=list)
    evidence_of: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)


# Protocol versions never change once stored, so their parsed settings are cached for the process.
_PROTOCOLS: dict[tuple[uuid.UUID, int], ProtocolSettings] = {}


async def protocol_for(*, session: AsyncSession, study_id: uuid.UUID) -> tuple[ProtocolSettings, int]:
    """The study's protocol in force and its version: one small query, the parsing cached per version."""
    version = (
        await session.execute(select(Study.protocol_version).where(col(Study.id) == study_id))
    ).scalar_one()
    return await _settings(session=session, study_id=study_id, version=version), version


async def _settings(*, session: AsyncSession, study_id: uuid.UUID, version: int) -> ProtocolSettings:
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


def _needs_meals(entry: DiaryEntryLike) -> bool:
    return entry.kind == "glucose" and entry.data.get("context") in ("fasting", "postprandial")


JUDGED_KINDS = frozenset({"glucose", "hypo_event", "illness"})


@lru_cache(maxsize=8)
def _lookup_statement(with_version: bool, with_meals: bool, with_linked: bool) -> Any:
    """The lookup query of `_lookups`, built once per shape: values travel as bound parameters (typed by the
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
    with_meals = _needs_meals(entry)
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


async def _lookups(
    *, session: AsyncSession, participant: Participant, entry: DiaryEntryLike, with_version: bool
) -> Lookups:
    """What the rules read for one entry, in ONE round trip (the parsed protocol is cached per version)."""
    with_meals, linked, params = _lookup_params(participant, entry, with_version)
    if not (with_version or with_meals):
        return None, None, None
    statement = _lookup_statement(with_version, with_meals, linked)
    return _lookup_values((await session.execute(statement, params)).one(), with_version)


@lru_cache(maxsize=8)
def _lookup_columns(with_version: bool, with_meals: bool, with_linked: bool) -> tuple[str, dict[str, Any]]:
    """The lookup query's columns as PostgreSQL SQL with named parameters, and the values of its own
    constants: the same query, for a statement that reads it in its own round trip."""
    compiled = _lookup_statement(with_version, with_meals, with_linked).compile(
        dialect=postgresql.dialect(paramstyle="named")
    )
    # ":name::UUID" casts as CAST(:name AS UUID), which text() reads as a named parameter
    sql = re.sub(r":(\w+)::(TIMESTAMP WITH TIME ZONE|[A-Z]+)", r"CAST(:\1 AS \2)", str(compiled))
    assert sql.startswith("SELECT ") and "::" not in sql  # the columns only, every parameter named
    return sql.removeprefix("SELECT "), dict(compiled.params)


@dataclass(frozen=True)
class Prefetch:
    """What evaluate_entry would read for a new entry, for the caller to read in its own statement."""

    columns: str  # SQL: ", "-separated scalar subqueries (PostgreSQL), named parameters
    params: dict[str, Any]
    with_version: bool = True

    def values(self, row: Sequence[Any]) -> Lookups:
        """The lookups from the values the columns returned."""
        return _lookup_values(row, with_version=self.with_version)


def prefetch(
    participant: Participant, entry: DiaryEntryLike, *, with_version: bool = True
) -> Prefetch | None:
    """The rules' reads for a new entry as SQL columns (PostgreSQL), or None when the rules read nothing:
    core/diary/pg_create.py adds them to its insert, saving the rules a round trip on the hot path.
    `with_version`: False when the caller read the protocol already (and passes it to evaluate_entry)."""
    if not get_settings().rules.enabled or entry.voided or entry.kind not in JUDGED_KINDS:
        return None
    with_meals, linked, params = _lookup_params(participant, entry, with_version=with_version)
    if not (with_version or with_meals):
        return None
    columns, constants = _lookup_columns(with_version, with_meals, linked)
    return Prefetch(columns, {**constants, **params}, with_version)


@dataclass
class _MealIndex:
    """The participant's meals around a batch of readings, read once: each reading's last meal before it
    (within MEAL_LOOKBACK) and its linked meal come from here instead of one query per reading."""

    times: list[datetime]  # sorted occurred_at of the non-voided meals in the span
    by_id: dict[str, datetime]

    @classmethod
    async def load(
        cls, *, session: AsyncSession, participant: Participant, entries: Sequence[DiaryEntryLike]
    ) -> _MealIndex:
        readings = [e for e in entries if _needs_meals(e)]
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
        if not _needs_meals(entry):
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
        _version, _latest, linked = await _lookups(
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
    if not _needs_meals(entry):
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


SAFETY_BY_FLAG = {
    classify.SEVERE_HYPO: ("severe_hypoglycemia", Severity.critical, "event.severe_hypoglycemia"),
    classify.HYPO_L2: ("hypoglycemia_level_2", Severity.urgent, "glucose.hypoglycemia_level_2"),
    classify.HYPO_L1: ("hypoglycemia_level_1", Severity.warning, "glucose.hypoglycemia_level_1"),
}


def safety_conditions(
    entry: DiaryEntryLike, flags: list[str], protocol: ProtocolSettings
) -> list[alerts.Condition]:
    """The safety alerts one entry raises by itself (no window needed)."""
    found: list[alerts.Condition] = []
    for flag, (kind, severity, rule) in SAFETY_BY_FLAG.items():
        if flag in flags:
            details: dict[str, Any] = {"flag": flag, "local_date": entry.local_date.isoformat()}
            if entry.kind == "glucose":
                details |= {"value": entry.data.get("value"), "unit": entry.data.get("unit")}
            found.append(
                alerts.Condition(kind, AlertCategory.safety, severity, rule, kind, (entry.id,), details)
            )
    if entry.kind == "illness":
        illness, level, reasons = classify.illness_alert(entry.data, protocol.glucose)
        found.append(
            alerts.Condition(
                illness,
                AlertCategory.safety,
                Severity(level),
                f"illness.{illness}",
                illness,
                (entry.id,),
                {"reasons": reasons, "local_date": entry.local_date.isoformat()},
            )
        )
    return found


def _dose_review_applies(entry: DiaryEntryLike, flags: list[str]) -> bool:
    """Only entries that can complete a pattern pay for the window queries: a fasting value above range, a
    postprandial value above the limit, or hypoglycemia (the falling-requirement pattern needs new
    hypoglycemia, so it is judged when that arrives). An in-range reading reads no window."""
    if entry.kind == "hypo_event":
        return True
    return entry.kind == "glucose" and bool(
        set(flags) & (classify.HYPO_FLAGS | {classify.FASTING_ABOVE, classify.POSTPRANDIAL_ABOVE})
    )


def dose_review_suggestions(
    window: dose_review.Window,
    entry: DiaryEntryLike,
    flags: list[str],
    protocol: ProtocolSettings,
    memo: dict[Any, Any] | None = None,
) -> list[dose_review.Suggestion]:
    """The pattern rules this entry can complete, run on the window ending on its local day.

    `memo`: results kept across the entries of one evaluation (one window): a rule's answer depends only on
    the window and its last day, so a batch's many entries of one day run each rule once per day, not once
    per entry (that made a dense day's batch slower with every entry the day held)."""
    rules = protocol.dose_review
    memo = {} if memo is None else memo

    def once(key: tuple[Any, ...], rule: Callable[[], dose_review.Suggestion | None]) -> None:
        full = (*key, window.today)
        if full not in memo:
            memo[full] = rule()
        found.append(memo[full])

    found: list[dose_review.Suggestion | None] = []
    hypo = entry.kind == "hypo_event" or bool(set(flags) & classify.HYPO_FLAGS)
    if classify.FASTING_ABOVE in flags:
        once(("basal",), lambda: dose_review.basal_increase(window, rules))
    if classify.POSTPRANDIAL_ABOVE in flags:
        if "readings" not in memo:
            memo["readings"] = {r.entry_id: r for r in window.readings}
        current = memo["readings"].get(entry.id)
        if current is not None and current.meal_type:
            meal_type = current.meal_type
            once(("meal", meal_type), lambda: dose_review.meal_bolus(window, rules, meal_type))
    if hypo:
        once(("reduction",), lambda: dose_review.reduction(window, rules, protocol.episodes))
        once(("falling",), lambda: dose_review.falling_requirement(window, rules))
    return [s for s in found if s is not None]


def with_fasting_evidence(
    suggestion: dose_review.Suggestion, evidence: list[dose_review.Reading]
) -> dose_review.Suggestion:
    known = {r["entry_id"] for r in suggestion.details["readings"]}
    extra = [r for r in evidence if str(r.entry_id) not in known]
    readings = sorted(
        [*suggestion.details["readings"], *(dose_review.reading_doc(r) for r in extra)],
        key=lambda doc: doc["occurred_at"],
    )
    ids = tuple(dict.fromkeys([*suggestion.entry_ids, *(r.entry_id for r in extra)]))
    return replace(suggestion, entry_ids=ids, details={**suggestion.details, "readings": readings})


# Fields of an entry's snapshot that are not what the rules judge (who, when received, the rules' own output).
_NOT_JUDGED = frozenset(
    {
        "id",
        "kind",
        "participant_id",
        "occurred_at",
        "utc_offset_minutes",
        "local_date",
        "entered_at",
        "note",
        "version",
        "recorded_by",
        "received_at",
        "updated_at",
        "source_app",
        "source_app_version",
        "late",
        "voided",
        "void_reason",
        "flags",
        "alerts",
        "value_mg_dl",
    }
)


def cause_changed(entry: DiaryEntryLike, previous: dict[str, Any]) -> bool:
    """Did a void or an edit change what the rules judged (a field of the kind, or the time)? A corrected
    note or device time is not a changed cause."""
    if entry.voided:
        return True
    fields = (set(previous) - _NOT_JUDGED) | set(entry.data)
    if any(previous.get(name) != entry.data.get(name) for name in fields):
        return True
    before = previous.get("occurred_at")
    if isinstance(before, str):
        return datetime.fromisoformat(before.replace("Z", "+00:00")) != entry.occurred_at
    return False


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


# Flags that depend on the meals logged around a reading (the rest judge the value alone).
MEAL_DEPENDENT_FLAGS = frozenset(
    {
        classify.FASTING_BELOW,
        classify.FASTING_ABOVE,
        classify.FASTING_AFTER_MEAL,
        classify.POSTPRANDIAL_ABOVE,
        classify.POSTPRANDIAL_MISTIMED,
    }
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
    if not get_settings().rules.enabled or not entries:
        return outcomes
    protocol: ProtocolSettings | None = given[0] if given else None
    version = given[1] if given else 0
    meals: _MealIndex | None = None
    judged = [e for e, _ in entries if not e.voided and e.kind in JUDGED_KINDS]
    if len(judged) > 1:
        # a batch: the protocol version and every meal the readings can refer to, in two queries in all
        if protocol is None:
            protocol, version = await protocol_for(session=session, study_id=participant.study_id)
        meals = await _MealIndex.load(session=session, participant=participant, entries=judged)
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
            if linked is None and _needs_meals(entry) and entry.data.get("meal_id"):
                linked = await meals.linked(session=session, participant=participant, entry=entry)
        else:
            if prefetched is not None and len(entries) == 1:
                found, latest, linked = prefetched
            else:
                found, latest, linked = await _lookups(
                    session=session, participant=participant, entry=entry, with_version=protocol is None
                )
            if protocol is None:
                assert found is not None
                version = found
                protocol = await _settings(session=session, study_id=participant.study_id, version=version)
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
        if _dose_review_applies(entry, patterns[i]):
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
