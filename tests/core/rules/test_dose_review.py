"""Dose-review pattern rules over local days: each one triggered, just missed, and broken (pure, no database).

Defaults (SPEC.md 4, ProtocolSettings.dose_review): fasting above range on 3 consecutive days and no
hypoglycemia in 7 days; postprandial above limit on 3 of 7 days after the same meal; any level 2 / severe, or
2 level 1 events in 7 days; 5 in-range fasting days falling with new hypoglycemia.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.protocol import DEFAULT_PROTOCOL
from core.rules import dose_review as dr

RULES = DEFAULT_PROTOCOL.dose_review
EPISODES = DEFAULT_PROTOCOL.episodes
TZ = ZoneInfo("Europe/Ljubljana")
TODAY = date(2026, 3, 10)


def reading(
    day: date,
    value: float,
    context: str = "fasting",
    flags: tuple[str, ...] = (),
    at: time = time(7, 0),
    meal_type: str | None = None,
    unit: str = "mg/dL",
) -> dr.Reading:
    local = datetime.combine(day, at, tzinfo=TZ)
    return dr.Reading(
        entry_id=uuid.uuid4(),
        occurred_at=local.astimezone(UTC),
        local_date=day,
        value=value,
        unit=unit,
        value_mg_dl=value * 18.016 if unit == "mmol/L" else value,
        context=context,
        flags=frozenset(flags),
        meal_type=meal_type,
    )


def days_back(n: int, today: date = TODAY) -> list[date]:
    return [today - timedelta(days=i) for i in range(n - 1, -1, -1)]


def high_fasting(day: date, value: float = 135) -> dr.Reading:
    return reading(day, value, flags=("fasting_above_range",))


# ---- basal increase ------------------------------------------------------------------------------------------


def test_three_consecutive_high_fasting_days_suggest_reviewing_basal() -> None:
    # 130, 140, 150 mg/dL on 8, 9, 10 March, nothing low in 7 days: mean (130+140+150)/3 = 140
    window = dr.Window(
        TODAY, [high_fasting(d, v) for d, v in zip(days_back(3), (130, 140, 150), strict=True)]
    )
    s = dr.basal_increase(window, RULES)
    assert s is not None
    assert s.kind == "dose_review_basal_increase"
    assert s.details["numbers"]["mean_fasting_mg_dl"] == 140.0
    assert [r["value"] for r in s.details["readings"]] == [130, 140, 150]
    assert s.details["applied_automatically"] is False
    assert len(s.entry_ids) == 3


def test_two_high_days_and_a_gap_are_not_enough() -> None:
    # shortest failing: only 9 and 10 March high (8 March has no fasting reading)
    assert dr.basal_increase(dr.Window(TODAY, [high_fasting(d) for d in days_back(2)]), RULES) is None
    # three high days but not consecutive: 7, 9, 10 March, 8 March in range
    readings = [high_fasting(date(2026, 3, 7)), reading(date(2026, 3, 8), 100)] + [
        high_fasting(d) for d in days_back(2)
    ]
    assert dr.basal_increase(dr.Window(TODAY, readings), RULES) is None


def test_a_hypoglycemia_in_the_last_seven_days_blocks_the_increase() -> None:
    # 4 March is the 7th day back (4..10 March): a level 1 reading of 65 there blocks it
    low = reading(date(2026, 3, 4), 65, context="random", flags=("hypoglycemia_level_1",), at=time(15))
    window = dr.Window(TODAY, [high_fasting(d) for d in days_back(3)] + [low])
    assert dr.basal_increase(window, RULES) is None
    # on 3 March (8 days back) it no longer does
    old = reading(date(2026, 3, 3), 65, context="random", flags=("hypoglycemia_level_1",), at=time(15))
    assert dr.basal_increase(dr.Window(TODAY, [high_fasting(d) for d in days_back(3)] + [old]), RULES)


def test_a_self_reported_hypoglycemia_blocks_the_increase() -> None:
    report = dr.HypoReport(uuid.uuid4(), datetime(2026, 3, 6, 12, tzinfo=UTC), date(2026, 3, 6), severe=False)
    window = dr.Window(TODAY, [high_fasting(d) for d in days_back(3)], hypo_reports=[report])
    assert dr.basal_increase(window, RULES) is None


def test_an_illness_day_breaks_the_streak_and_is_shown_as_context() -> None:
    readings = [high_fasting(d) for d in days_back(3)]
    ill = dr.Window(TODAY, readings, illness_days={date(2026, 3, 9): ["respiratory"]})
    assert dr.basal_increase(ill, RULES) is None
    # an illness day before the streak does not break it but appears in the context
    earlier = dr.Window(
        TODAY, readings, illness_days={date(2026, 3, 6): ["fever"]}, exercise_days={TODAY: 60}
    )
    s = dr.basal_increase(earlier, RULES)
    assert s is not None
    assert s.details["context"] == {
        "illness_days": [{"local_date": "2026-03-06", "illness": ["fever"]}],
        "exercise_days": [{"local_date": "2026-03-10", "minutes": 60}],
    }


def test_a_fasting_reading_after_a_meal_does_not_count_as_fasting() -> None:
    readings = [high_fasting(d) for d in days_back(2)] + [
        reading(date(2026, 3, 8), 150, flags=("fasting_after_meal",))
    ]
    assert dr.basal_increase(dr.Window(TODAY, readings), RULES) is None


def test_local_days_across_the_spring_dst_change() -> None:
    # Ljubljana moves from UTC+1 to UTC+2 on 29 March 2026. Readings at 00:30 local on 28, 29, 30 March are
    # 23:30 UTC on 27 March, 23:30 UTC on 28 March (still +1 at 00:30) and 22:30 UTC on 29 March: three local
    # days. A UTC calendar would see 27, 28, 29 March instead, and the rule works on the participant's days.
    days = [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    readings = [reading(d, 140, flags=("fasting_above_range",), at=time(0, 30)) for d in days]
    assert [r.occurred_at for r in readings] == [
        datetime(2026, 3, 27, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC),
    ]
    s = dr.basal_increase(dr.Window(date(2026, 3, 30), readings), RULES)
    assert s is not None
    assert [r["local_date"] for r in s.details["readings"]] == ["2026-03-28", "2026-03-29", "2026-03-30"]


# ---- meal bolus ---------------------------------------------------------------------------------------------


def pp(day: date, meal: str = "dinner", high: bool = True) -> dr.Reading:
    flags = ("postprandial_above_limit",) if high else ()
    return reading(
        day, 165 if high else 120, context="postprandial", flags=flags, at=time(20), meal_type=meal
    )


def test_three_of_seven_days_high_after_the_same_meal() -> None:
    # 4, 7 and 10 March after dinner: 3 of the 7 days 4..10 March
    window = dr.Window(TODAY, [pp(date(2026, 3, 4)), pp(date(2026, 3, 7)), pp(TODAY)])
    s = dr.meal_bolus(window, RULES, "dinner")
    assert s is not None
    assert s.fold_key == "dose_review_meal_bolus:dinner"
    assert s.details["numbers"] == {"meal_type": "dinner", "days_above_limit": 3, "window_days": 7}


def test_two_days_or_a_day_outside_the_window_or_another_meal_are_not_enough() -> None:
    # shortest failing: two high days; 3 March is the 8th day back; a lunch does not add to dinner
    assert dr.meal_bolus(dr.Window(TODAY, [pp(date(2026, 3, 7)), pp(TODAY)]), RULES, "dinner") is None
    window = dr.Window(TODAY, [pp(date(2026, 3, 3)), pp(date(2026, 3, 7)), pp(TODAY)])
    assert dr.meal_bolus(window, RULES, "dinner") is None
    mixed = dr.Window(TODAY, [pp(date(2026, 3, 5), "lunch"), pp(date(2026, 3, 7)), pp(TODAY)])
    assert dr.meal_bolus(mixed, RULES, "dinner") is None
    # two readings on one day count as one day
    twice = dr.Window(TODAY, [pp(date(2026, 3, 7)), pp(date(2026, 3, 7)), pp(TODAY)])
    assert dr.meal_bolus(twice, RULES, "dinner") is None


def test_an_illness_day_does_not_count_towards_the_meal_rule() -> None:
    window = dr.Window(
        TODAY,
        [pp(date(2026, 3, 4)), pp(date(2026, 3, 7)), pp(TODAY)],
        illness_days={date(2026, 3, 7): ["fever"]},
    )
    assert dr.meal_bolus(window, RULES, "dinner") is None


# ---- reduction ----------------------------------------------------------------------------------------------


def low(day: date, value: float, at: time, level: int = 1) -> dr.Reading:
    return reading(day, value, context="random", flags=(f"hypoglycemia_level_{level}",), at=at)


def test_one_level_2_reading_suggests_a_reduction() -> None:
    s = dr.reduction(dr.Window(TODAY, [low(TODAY, 50, time(3), level=2)]), RULES, EPISODES)
    assert s is not None
    assert s.details["numbers"]["level2_readings"] == 1
    assert "level 2" in s.details["suggestion"]


def test_a_severe_event_suggests_a_reduction() -> None:
    report = dr.HypoReport(uuid.uuid4(), datetime(2026, 3, 10, 2, tzinfo=UTC), TODAY, severe=True)
    s = dr.reduction(dr.Window(TODAY, [], hypo_reports=[report]), RULES, EPISODES)
    assert s is not None
    assert s.details["numbers"]["severe_events"] == 1
    assert s.entry_ids == (report.entry_id,)


def test_two_level_1_events_in_seven_days_suggest_a_reduction() -> None:
    window = dr.Window(TODAY, [low(date(2026, 3, 4), 65, time(15)), low(TODAY, 66, time(11))])
    s = dr.reduction(window, RULES, EPISODES)
    assert s is not None
    assert s.details["numbers"]["level1_events"] == 2


def test_rechecks_of_one_episode_are_one_event_and_old_events_do_not_count() -> None:
    # 65 at 15:00 and a re-check 68 at 15:15 are one event (within 120 min): one event, no suggestion
    window = dr.Window(TODAY, [low(TODAY, 65, time(15)), low(TODAY, 68, time(15, 15))])
    assert dr.reduction(window, RULES, EPISODES) is None
    # an event on 3 March is outside the 7 days 4..10 March
    window = dr.Window(TODAY, [low(date(2026, 3, 3), 65, time(15)), low(TODAY, 66, time(11))])
    assert dr.reduction(window, RULES, EPISODES) is None
    # lows 3 hours apart are two events
    window = dr.Window(TODAY, [low(TODAY, 65, time(9)), low(TODAY, 66, time(12))])
    assert dr.reduction(window, RULES, EPISODES) is not None


def test_a_self_report_near_a_low_reading_is_the_same_event() -> None:
    reading_ = low(TODAY, 65, time(15))
    near = dr.HypoReport(uuid.uuid4(), reading_.occurred_at + timedelta(minutes=20), TODAY, severe=False)
    assert dr.reduction(dr.Window(TODAY, [reading_], hypo_reports=[near]), RULES, EPISODES) is None
    far = dr.HypoReport(
        uuid.uuid4(), reading_.occurred_at - timedelta(days=2), date(2026, 3, 8), severe=False
    )
    assert dr.reduction(dr.Window(TODAY, [reading_], hypo_reports=[far]), RULES, EPISODES) is not None


# ---- falling requirement ------------------------------------------------------------------------------------


def falling(values: tuple[float, ...]) -> list[dr.Reading]:
    return [reading(d, v) for d, v in zip(days_back(len(values)), values, strict=True)]


def test_falling_in_range_fasting_with_new_hypoglycemia() -> None:
    # 105, 100, 92, 85, 78 mg/dL on 6..10 March; a level 1 on 9 March, none before
    readings = [*falling((105, 100, 92, 85, 78)), low(date(2026, 3, 9), 62, time(16))]
    s = dr.falling_requirement(dr.Window(TODAY, readings), RULES)
    assert s is not None
    numbers = s.details["numbers"]
    assert numbers["daily_mean_fasting_mg_dl"] == [105, 100, 92, 85, 78]
    # x = 0..4, mean 2; y mean 92; slope = sum((x-2)(y-92)) / 10 = (-26-8+0-7-28)/10 = -6.9
    assert numbers["slope_mg_dl_per_day"] == -6.9
    assert numbers["days_with_hypoglycemia"] == 1


def test_falling_without_hypoglycemia_or_over_too_few_days_or_not_falling() -> None:
    assert dr.falling_requirement(dr.Window(TODAY, falling((105, 100, 92, 85, 78))), RULES) is None
    hypo = low(date(2026, 3, 9), 62, time(16))
    # four days only: the shortest sequence that fails
    assert dr.falling_requirement(dr.Window(TODAY, [*falling((100, 92, 85, 78)), hypo]), RULES) is None
    # rising values
    assert dr.falling_requirement(dr.Window(TODAY, [*falling((78, 85, 92, 100, 105)), hypo]), RULES) is None


def test_hypoglycemia_that_is_not_new_does_not_count() -> None:
    # one hypo day in 6..10 March and one in the five days before: not rising
    readings = [
        *falling((105, 100, 92, 85, 78)),
        low(date(2026, 3, 9), 62, time(16)),
        low(date(2026, 3, 2), 64, time(16)),
    ]
    assert dr.falling_requirement(dr.Window(TODAY, readings), RULES) is None


def test_an_out_of_range_fasting_day_breaks_the_falling_pattern() -> None:
    readings = falling((105, 100, 92, 85, 78))
    readings[0] = reading(readings[0].local_date, 115, flags=("fasting_above_range",))
    readings.append(low(date(2026, 3, 9), 62, time(16)))
    assert dr.falling_requirement(dr.Window(TODAY, readings), RULES) is None
