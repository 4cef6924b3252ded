"""Eligibility at enrolment (pure): age, weeks since diagnosis and BMI against the protocol's criteria."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.protocol import EligibilityRules


class Criterion(StrEnum):
    age = "age"
    weeks_since_diagnosis = "weeks_since_diagnosis"
    bmi = "bmi"


@dataclass(frozen=True)
class Failure:
    criterion: Criterion
    path: str  # the request field a coordinator should look at
    message: str


def age_in_years(birth_date: date, on: date) -> int:
    """Completed years on `on` (a birthday counts on its day; 29 February birthdays on 1 March)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def check(
    rules: EligibilityRules,
    *,
    birth_date: date,
    enrolled_on: date,
    diagnosis_date: date | None,
    height_cm: float | None,
    weight_kg: float,
) -> list[Failure]:
    """Every criterion the enrolment data fails (empty when eligible). Missing data cannot show eligibility."""
    failures = []
    age = age_in_years(birth_date, enrolled_on)
    if not rules.min_age_years <= age <= rules.max_age_years:
        failures.append(
            Failure(
                Criterion.age,
                "birth_date",
                f"age at enrolment {age} years; the protocol allows {rules.min_age_years:g}-"
                f"{rules.max_age_years:g}",
            )
        )
    if diagnosis_date is None:
        failures.append(
            Failure(
                Criterion.weeks_since_diagnosis, "diagnosis_date", "needed to check the time since diagnosis"
            )
        )
    else:
        weeks = (enrolled_on - diagnosis_date).days / 7
        if weeks < 0 or weeks > rules.max_weeks_since_diagnosis:
            failures.append(
                Failure(
                    Criterion.weeks_since_diagnosis,
                    "diagnosis_date",
                    f"{weeks:.1f} weeks from diagnosis to enrolment; the protocol allows 0-"
                    f"{rules.max_weeks_since_diagnosis:g}",
                )
            )
    if height_cm is None:
        failures.append(Failure(Criterion.bmi, "height_cm", "needed to check the BMI"))
    else:
        bmi = weight_kg / (height_cm / 100) ** 2
        if bmi > rules.max_bmi:
            failures.append(
                Failure(
                    Criterion.bmi,
                    "height_cm",
                    f"BMI {bmi:.1f} kg/m²; the protocol allows at most {rules.max_bmi:g}",
                )
            )
    return failures
