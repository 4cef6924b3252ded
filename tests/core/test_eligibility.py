"""Eligibility at enrolment, worked by hand: age in completed years, weeks since diagnosis, BMI."""

from __future__ import annotations

from datetime import date

from core.protocol import EligibilityRules
from core.studies.eligibility import age_in_years, check

RULES = EligibilityRules()  # 3-35 years, at most 9 weeks since diagnosis, BMI at most 30


def failures(**changes: object) -> list[str]:
    values: dict[str, object] = {
        "birth_date": date(2019, 3, 1),
        "enrolled_on": date(2026, 3, 1),
        "diagnosis_date": date(2026, 2, 1),
        "height_cm": 120.0,
        "weight_kg": 23.0,
    }
    values.update(changes)
    return [f.criterion for f in check(RULES, **values)]  # type: ignore[arg-type]


def test_completed_years_count_a_birthday_on_its_day() -> None:
    assert age_in_years(date(2019, 3, 1), date(2026, 2, 28)) == 6
    assert age_in_years(date(2019, 3, 1), date(2026, 3, 1)) == 7
    assert (
        age_in_years(date(2016, 2, 29), date(2026, 2, 28)) == 9
    )  # leap-day birthday: 1 March in other years


def test_an_eligible_seven_year_old() -> None:
    assert failures() == []


def test_age_limits_are_inclusive() -> None:
    assert failures(birth_date=date(2023, 3, 1)) == []  # exactly 3
    assert failures(birth_date=date(2023, 3, 2)) == ["age"]  # 2 years 364 days
    assert failures(birth_date=date(1990, 3, 2)) == []  # 35 years 364 days is still 35
    assert failures(birth_date=date(1990, 3, 1)) == ["age"]  # the 36th birthday


def test_nine_weeks_since_diagnosis_is_the_limit() -> None:
    assert failures(diagnosis_date=date(2025, 12, 28)) == []  # 63 days = 9.0 weeks
    assert failures(diagnosis_date=date(2025, 12, 27)) == ["weeks_since_diagnosis"]  # 64 days = 9.1 weeks
    assert failures(diagnosis_date=date(2026, 3, 2)) == ["weeks_since_diagnosis"]  # after enrolment
    assert failures(diagnosis_date=None) == ["weeks_since_diagnosis"]


def test_bmi_above_thirty_fails() -> None:
    # at 100 cm, BMI = kg / 1.0^2: 30.0 is allowed, 30.1 is not
    assert failures(height_cm=100.0, weight_kg=30.0) == []
    assert failures(height_cm=100.0, weight_kg=30.1) == ["bmi"]
    assert failures(height_cm=None) == ["bmi"]
