"""Reading classification at and around every threshold, in both units, each row worked by hand.

Defaults (CLINICAL.md A1): level 1 < 70 and >= 54 mg/dL (< 3.9 and >= 3.0 mmol/L); level 2 < 54 (< 3.0);
fasting below < 70 (< 3.9), above > 110 (> 6.1); postprandial >= 140 (>= 7.8); hyper 1 > 180 and <= 250
(> 10.0 and <= 13.9), hyper 2 > 250 (> 13.9).
"""

from __future__ import annotations

from datetime import date

import pytest

from core.protocol import DEFAULT_PROTOCOL, Comparison, with_overrides
from core.rules.classify import MealTiming, age_in_years, classify_entry, classify_glucose, is_severe_event

RULES = DEFAULT_PROTOCOL.glucose
NO_MEAL = MealTiming()
IN_WINDOW = MealTiming(minutes_after_meal=90, minutes_since_logged_meal=90)

# (value, unit, context, expected flags) -- the reasoning is in the comment of each row
ROWS = [
    # level 2 is "< 54": 53.9 is below, 54 is level 1 (>= 54 and < 70), 54.1 likewise
    (53.9, "mg/dL", "random", ["hypoglycemia_level_2"]),
    (54, "mg/dL", "random", ["hypoglycemia_level_1"]),
    (54.1, "mg/dL", "random", ["hypoglycemia_level_1"]),
    # level 1 upper edge "< 70": 69 is level 1; 70 and 71 are not low at all
    (69, "mg/dL", "random", ["hypoglycemia_level_1"]),
    (70, "mg/dL", "random", []),
    (71, "mg/dL", "random", []),
    # mmol/L pair of 54: 3.0. 2.9 < 3.0 level 2; 3.0 and 3.1 level 1 (never 54/18.016=2.997 -> level 2)
    (2.9, "mmol/L", "random", ["hypoglycemia_level_2"]),
    (3.0, "mmol/L", "random", ["hypoglycemia_level_1"]),
    (3.1, "mmol/L", "random", ["hypoglycemia_level_1"]),
    # mmol/L pair of 70: 3.9. 3.8 < 3.9 level 1; 3.9, 4.0 not low
    (3.8, "mmol/L", "random", ["hypoglycemia_level_1"]),
    (3.9, "mmol/L", "random", []),
    (4.0, "mmol/L", "random", []),
    # fasting range 70-110: 69 below (and level 1), 70 in range, 110 in range, 111 above
    (69, "mg/dL", "fasting", ["hypoglycemia_level_1", "fasting_below_range"]),
    (70, "mg/dL", "fasting", []),
    (110, "mg/dL", "fasting", []),
    (111, "mg/dL", "fasting", ["fasting_above_range"]),
    # mmol/L fasting range 3.9-6.1: 3.8 below, 3.9 in, 6.1 in, 6.2 above
    (3.8, "mmol/L", "fasting", ["hypoglycemia_level_1", "fasting_below_range"]),
    (3.9, "mmol/L", "fasting", []),
    (6.1, "mmol/L", "fasting", []),
    (6.2, "mmol/L", "fasting", ["fasting_above_range"]),
    # 111 mg/dL outside a fasting context is nothing
    (111, "mg/dL", "pre_meal", []),
    # postprandial limit ">= 140": 139 fine, 140 and 141 above; mmol/L 7.7 fine, 7.8 above
    (139, "mg/dL", "postprandial", []),
    (140, "mg/dL", "postprandial", ["postprandial_above_limit"]),
    (141, "mg/dL", "postprandial", ["postprandial_above_limit"]),
    (7.7, "mmol/L", "postprandial", []),
    (7.8, "mmol/L", "postprandial", ["postprandial_above_limit"]),
    # hyper 1 "> 180 and <= 250": 180 none, 181 level 1, 250 level 1, 251 level 2
    (180, "mg/dL", "random", []),
    (181, "mg/dL", "random", ["hyperglycemia_level_1"]),
    (250, "mg/dL", "random", ["hyperglycemia_level_1"]),
    (251, "mg/dL", "random", ["hyperglycemia_level_2"]),
    # mmol/L 10.0 none, 10.1 level 1, 13.9 level 1, 14.0 level 2
    (10.0, "mmol/L", "random", []),
    (10.1, "mmol/L", "random", ["hyperglycemia_level_1"]),
    (13.9, "mmol/L", "random", ["hyperglycemia_level_1"]),
    (14.0, "mmol/L", "random", ["hyperglycemia_level_2"]),
    # a postprandial 260 is above the limit and hyper level 2
    (260, "mg/dL", "postprandial", ["postprandial_above_limit", "hyperglycemia_level_2"]),
]


@pytest.mark.parametrize(("value", "unit", "context", "expected"), ROWS)
def test_flags_at_and_around_thresholds(value: float, unit: str, context: str, expected: list[str]) -> None:
    timing = IN_WINDOW if context == "postprandial" else NO_MEAL
    assert classify_glucose(value=value, unit=unit, context=context, timing=timing, rules=RULES) == expected


LE_RULES = with_overrides(DEFAULT_PROTOCOL, {"glucose": {"hypo_comparison": "<="}}).glucose


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        # with "<=" the level 1 edge itself is low: 70 and 3.9 become level 1; 71 and 4.0 stay normal
        (69, "mg/dL", ["hypoglycemia_level_1"]),
        (70, "mg/dL", ["hypoglycemia_level_1"]),
        (71, "mg/dL", []),
        (3.9, "mmol/L", ["hypoglycemia_level_1"]),
        (4.0, "mmol/L", []),
        # level 2 stays "< 54" / "< 3.0"
        (54, "mg/dL", ["hypoglycemia_level_1"]),
        (3.0, "mmol/L", ["hypoglycemia_level_1"]),
        (53.9, "mg/dL", ["hypoglycemia_level_2"]),
    ],
)
def test_less_or_equal_operator(value: float, unit: str, expected: list[str]) -> None:
    assert LE_RULES.hypo_comparison is Comparison.le
    assert (
        classify_glucose(value=value, unit=unit, context="random", timing=NO_MEAL, rules=LE_RULES) == expected
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        # window 60-150 min after the meal start, both ends inside
        (59, ["postprandial_mistimed"]),
        (60, ["postprandial_above_limit"]),
        (150, ["postprandial_above_limit"]),
        (151, ["postprandial_mistimed"]),
        # no meal known: the context alone counts
        (None, ["postprandial_above_limit"]),
    ],
)
def test_postprandial_window(minutes: float | None, expected: list[str]) -> None:
    timing = MealTiming(minutes_after_meal=minutes)
    flags = classify_glucose(value=165, unit="mg/dL", context="postprandial", timing=timing, rules=RULES)
    assert flags == expected


def test_mistimed_postprandial_is_not_judged_but_hypo_still_is() -> None:
    timing = MealTiming(minutes_after_meal=20)
    flags = classify_glucose(value=60, unit="mg/dL", context="postprandial", timing=timing, rules=RULES)
    assert flags == ["hypoglycemia_level_1", "postprandial_mistimed"]


@pytest.mark.parametrize(
    ("minutes_since_meal", "expected"),
    [
        # 8 h = 480 min: a meal 479 min before makes it "fasting after a meal", not above range
        (479, ["fasting_after_meal"]),
        (480, ["fasting_above_range"]),
        (None, ["fasting_above_range"]),
    ],
)
def test_fasting_needs_eight_hours_without_a_meal(
    minutes_since_meal: float | None, expected: list[str]
) -> None:
    timing = MealTiming(minutes_since_logged_meal=minutes_since_meal)
    assert (
        classify_glucose(value=130, unit="mg/dL", context="fasting", timing=timing, rules=RULES) == expected
    )


def test_changed_thresholds_come_from_the_protocol() -> None:
    strict = with_overrides(DEFAULT_PROTOCOL, {"glucose": {"mg_dl": {"fasting_high": 100}}}).glucose
    assert classify_glucose(value=105, unit="mg/dL", context="fasting", timing=NO_MEAL, rules=strict) == [
        "fasting_above_range"
    ]


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown glucose unit"):
        classify_glucose(value=5, unit="mg/L", context="random", timing=NO_MEAL, rules=RULES)


def test_age_counts_birthdays() -> None:
    assert age_in_years(date(2010, 6, 15), date(2028, 6, 14)) == 17
    assert age_in_years(date(2010, 6, 15), date(2028, 6, 15)) == 18


ADULT = date(1990, 1, 1)
CHILD = date(2016, 3, 1)  # 10 years old in 2026
EVENT_DAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("birth", "data", "severe"),
    [
        # adult: help alone is level 3
        (ADULT, {"needed_assistance": True, "treatment": ["oral_carbohydrate"]}, True),
        (ADULT, {"needed_assistance": False, "treatment": ["glucagon"]}, False),
        # child: help alone is not; help plus glucagon, emergency services or unconsciousness is
        (CHILD, {"needed_assistance": True, "treatment": ["oral_carbohydrate"]}, False),
        (CHILD, {"needed_assistance": True, "treatment": ["glucagon"]}, True),
        (CHILD, {"needed_assistance": True, "treatment": ["emergency_services"]}, True),
        (CHILD, {"needed_assistance": True, "treatment": [], "unconscious_or_seizure": True}, True),
        # the day before the 18th birthday is still a child; the birthday itself is an adult
        (date(2008, 3, 11), {"needed_assistance": True, "treatment": []}, False),
        (date(2008, 3, 10), {"needed_assistance": True, "treatment": []}, True),
    ],
)
def test_severe_event(birth: date, data: dict[str, object], severe: bool) -> None:
    assert (
        is_severe_event(data=data, birth_date=birth, local_date=EVENT_DAY, protocol=DEFAULT_PROTOCOL)
        is severe
    )
    flags = classify_entry(
        kind="hypo_event",
        data=data,
        local_date=EVENT_DAY,
        timing=NO_MEAL,
        birth_date=birth,
        protocol=DEFAULT_PROTOCOL,
    )
    assert flags == (["severe_hypoglycemia"] if severe else [])
