"""What an entry raises: the safety alerts of its flags, the dose-review patterns it can complete, and
whether an edit changed what the rules judged (pure, no database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.models.alerts import AlertCategory, AlertKind, Severity
from core.protocol import ProtocolSettings
from core.rules import alerts, classify, dose_review
from core.rules.lookups import DiaryEntryLike

SAFETY_BY_FLAG = {
    classify.SEVERE_HYPO: (AlertKind.severe_hypoglycemia, Severity.critical, "event.severe_hypoglycemia"),
    classify.HYPO_L2: (AlertKind.hypoglycemia_level_2, Severity.urgent, "glucose.hypoglycemia_level_2"),
    classify.HYPO_L1: (AlertKind.hypoglycemia_level_1, Severity.warning, "glucose.hypoglycemia_level_1"),
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
                level,
                f"illness.{illness}",
                illness,
                (entry.id,),
                {"reasons": reasons, "local_date": entry.local_date.isoformat()},
            )
        )
    return found


def dose_review_applies(entry: DiaryEntryLike, flags: list[str]) -> bool:
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
        "run_in",
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
