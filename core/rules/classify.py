"""Pure classification of one diary entry against the protocol: no database, no clock.

Glucose is judged in the unit it was entered in, against that unit's paired thresholds (CLINICAL.md A1);
a value is never converted and then compared (54 mg/dL would become 2.997 mmol/L, a level 2 value).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.models.alerts import AlertKind, Severity
from core.protocol import Comparison, GlucoseRules, ProtocolSettings, UnitThresholds
from core.studies.eligibility import age_in_years  # one definition of completed years (re-exported here)

MG_DL = "mg/dL"
MMOL_L = "mmol/L"

HYPO_L1 = "hypoglycemia_level_1"
HYPO_L2 = "hypoglycemia_level_2"
FASTING_BELOW = "fasting_below_range"
FASTING_ABOVE = "fasting_above_range"
FASTING_AFTER_MEAL = "fasting_after_meal"
POSTPRANDIAL_ABOVE = "postprandial_above_limit"
POSTPRANDIAL_MISTIMED = "postprandial_mistimed"
HYPER_L1 = "hyperglycemia_level_1"
HYPER_L2 = "hyperglycemia_level_2"
SEVERE_HYPO = "severe_hypoglycemia"
HYPO_FLAGS = frozenset({HYPO_L1, HYPO_L2})


@dataclass(frozen=True)
class MealTiming:
    """What is known about meals around a reading: minutes from the meal start to the reading.

    `minutes_after_meal` is the reading's own answer, or the linked meal's distance, or the latest meal logged
    before the reading (in that order of preference); `minutes_since_logged_meal` is the latest logged meal
    only (for the fasting rule). None when nothing is known.
    """

    minutes_after_meal: float | None = None
    minutes_since_logged_meal: float | None = None


def thresholds_for(rules: GlucoseRules, unit: str) -> UnitThresholds:
    if unit == MG_DL:
        return rules.mg_dl
    if unit == MMOL_L:
        return rules.mmol_l
    raise ValueError(f"unknown glucose unit {unit!r}; allowed: {MG_DL}, {MMOL_L}")


def _below_level1(comparison: Comparison) -> Callable[[float, float], bool]:
    return operator.le if comparison is Comparison.le else operator.lt


def classify_glucose(
    *, value: float, unit: str, context: str, timing: MealTiming, rules: GlucoseRules
) -> list[str]:
    """The flags of one glucose reading (API.md names), in a stable order."""
    t = thresholds_for(rules, unit)
    flags: list[str] = []
    if value < t.hypo_level2:
        flags.append(HYPO_L2)
    elif _below_level1(rules.hypo_comparison)(value, t.hypo_level1):
        flags.append(HYPO_L1)
    if context == "fasting":
        since = timing.minutes_since_logged_meal
        if since is not None and since < rules.fasting_min_hours_after_meal * 60:
            # a meal in the hours before: not a fasting value, so not judged against the fasting range
            flags.append(FASTING_AFTER_MEAL)
        elif value < t.fasting_low:
            flags.append(FASTING_BELOW)
        elif value > t.fasting_high:
            flags.append(FASTING_ABOVE)
    elif context == "postprandial":
        start, end = rules.postprandial_window_min
        minutes = timing.minutes_after_meal
        if minutes is not None and not start <= minutes <= end:
            flags.append(POSTPRANDIAL_MISTIMED)
        elif value >= t.postprandial_limit:
            flags.append(POSTPRANDIAL_ABOVE)
    if value > t.hyper_level2:
        flags.append(HYPER_L2)
    elif value > t.hyper_level1:
        flags.append(HYPER_L1)
    return flags


def is_severe_event(
    *, data: Mapping[str, Any], birth_date: date | None, local_date: date, protocol: ProtocolSettings
) -> bool:
    """Level 3: a self-reported event that needed another person's help (CLINICAL.md A2.5, A2.7).

    Children need help anyway, so under `episodes.child_age_years` help alone is not enough: the event must
    also have had loss of consciousness or a seizure, or glucagon or emergency services.
    """
    if not data.get("needed_assistance"):
        return False
    episodes = protocol.episodes
    is_child = birth_date is not None and age_in_years(birth_date, local_date) < episodes.child_age_years
    if not (is_child and episodes.child_level3_needs_more_than_help):
        return True
    treatment = set(data.get("treatment") or ())
    return bool(data.get("unconscious_or_seizure")) or bool(treatment & {"glucagon", "emergency_services"})


def classify_entry(
    *,
    kind: str,
    data: Mapping[str, Any],
    local_date: date,
    timing: MealTiming,
    birth_date: date | None,
    protocol: ProtocolSettings,
) -> list[str]:
    """The rule flags of any diary entry (only glucose readings and hypoglycemia events carry any)."""
    if kind == "glucose":
        return classify_glucose(
            value=float(data["value"]),
            unit=str(data["unit"]),
            context=str(data.get("context") or "random"),
            timing=timing,
            rules=protocol.glucose,
        )
    if kind == "hypo_event":
        severe = is_severe_event(data=data, birth_date=birth_date, local_date=local_date, protocol=protocol)
        return [SEVERE_HYPO] if severe else []
    return []


def illness_alert(data: Mapping[str, Any], rules: GlucoseRules) -> tuple[AlertKind, Severity, list[str]]:
    """(kind, severity, reasons) of the alert an illness report raises: the worst condition wins.

    Any illness is information for the clinicians; ketones at or above the urgent threshold are urgent, at or
    above the critical threshold (ketoacidosis likely) critical, and so is a hospital visit.
    """
    reasons = [f"illness reported: {data.get('illness_type', 'other')} ({data.get('severity', 'unknown')})"]
    kind, severity = AlertKind.illness_reported, Severity.info
    ketones = data.get("ketones_mmol_l")
    if ketones is not None and float(ketones) >= rules.ketones_urgent_mmol_l:
        critical = float(ketones) >= rules.ketones_critical_mmol_l
        limit = rules.ketones_critical_mmol_l if critical else rules.ketones_urgent_mmol_l
        reasons.append(f"blood ketones {ketones} mmol/L (at or above {limit})")
        kind, severity = (
            (AlertKind.ketones_critical, Severity.critical)
            if critical
            else (AlertKind.ketones_high, Severity.urgent)
        )
    if data.get("hospital_visit"):
        reasons.append("led to a hospital visit")
        kind, severity = AlertKind.illness_hospital_visit, Severity.critical
    return kind, severity, reasons
