"""The study protocol settings: every default of CLINICAL.md part A, validated, overridable per study."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(StrEnum):
    """How "below the level 1 threshold" is read: `<` (current ADA) or `<=` (ADA 2017, IHSG 2017)."""

    lt = "<"
    le = "<="


class UnitThresholds(_Strict):
    """Paired thresholds in one unit (CLINICAL.md A1); readings are judged in the unit they were entered in."""

    hypo_level1: float = Field(gt=0, description="level 1 hypoglycemia below this")
    hypo_level2: float = Field(gt=0, description="level 2 hypoglycemia below this")
    fasting_low: float = Field(gt=0, description="fasting below range under this")
    fasting_high: float = Field(gt=0, description="fasting above range over this")
    postprandial_limit: float = Field(gt=0, description="postprandial at or above this is above the limit")
    hyper_level1: float = Field(gt=0, description="hyperglycemia level 1 above this")
    hyper_level2: float = Field(gt=0, description="hyperglycemia level 2 above this")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (
            self.hypo_level2 < self.hypo_level1 < self.fasting_high and self.fasting_low < self.fasting_high
        ):
            raise ValueError(
                "thresholds must satisfy hypo_level2 < hypo_level1 < fasting_high and fasting_low < fasting_high"
            )
        if not self.fasting_high < self.hyper_level1 < self.hyper_level2:
            raise ValueError("thresholds must satisfy fasting_high < hyper_level1 < hyper_level2")
        return self


MG_DL_DEFAULTS = UnitThresholds(
    hypo_level1=70,
    hypo_level2=54,
    fasting_low=70,
    fasting_high=110,
    postprandial_limit=140,
    hyper_level1=180,
    hyper_level2=250,
)
MMOL_L_DEFAULTS = UnitThresholds(
    hypo_level1=3.9,
    hypo_level2=3.0,
    fasting_low=3.9,
    fasting_high=6.1,
    postprandial_limit=7.8,
    hyper_level1=10.0,
    hyper_level2=13.9,
)


class GlucoseRules(_Strict):
    mg_dl: UnitThresholds = MG_DL_DEFAULTS
    mmol_l: UnitThresholds = MMOL_L_DEFAULTS
    hypo_comparison: Comparison = Comparison.lt
    mg_dl_per_mmol_l: float = Field(default=18.016, gt=17, lt=19, description="canonical conversion factor")
    postprandial_window_min: tuple[int, int] = Field(
        default=(60, 150), description="minutes after meal start"
    )
    fasting_min_hours_after_meal: float = Field(default=8, ge=0, le=24)
    ketones_urgent_mmol_l: float = Field(default=1.5, gt=0)
    ketones_critical_mmol_l: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _sane(self) -> Self:
        low, high = self.postprandial_window_min
        if not 0 <= low < high <= 360:
            raise ValueError("postprandial_window_min must be (start, end) with 0 <= start < end <= 360")
        if not self.ketones_urgent_mmol_l < self.ketones_critical_mmol_l:
            raise ValueError("ketones_urgent_mmol_l must be below ketones_critical_mmol_l")
        return self


class EpisodeRules(_Strict):
    separation_minutes: int = Field(default=15, ge=0, le=240)
    max_gap_minutes: int = Field(default=120, ge=1, le=1440)
    event_link_minutes: int = Field(default=60, ge=0, le=1440)
    child_age_years: int = Field(default=18, ge=0, le=25, description="under this age, ISPAD level 3 rule")
    child_level3_needs_more_than_help: bool = True


class VisitPlan(_Strict):
    """Visits at these months after day 0 (the treatment date), each with a +-window, and their reminders."""

    months: tuple[int, ...] = (1, 2, 3, 6, 9, 12, 15, 18, 21, 24)
    window_days: int = Field(default=7, ge=0, le=60)
    reminder_days_before: tuple[int, ...] = (7, 1)
    reminder_local_time: time = Field(
        default=time(9, 0), description="civil time of day, in the participant's zone, reminders go out"
    )

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if list(self.months) != sorted(set(self.months)) or not self.months or self.months[0] <= 0:
            raise ValueError("months must be positive, strictly increasing and not empty")
        if self.months[-1] > 120:
            raise ValueError("months must be at most 120 (ten years of follow-up)")
        days = self.reminder_days_before
        if any(d < 1 or d > 60 for d in days) or list(days) != sorted(set(days), reverse=True):
            raise ValueError("reminder_days_before must be distinct days 1-60, largest first")
        return self


class DoseReviewRules(_Strict):
    fasting_high_consecutive_days: int = Field(default=3, ge=2, le=14)
    no_hypo_lookback_days: int = Field(default=7, ge=1, le=28)
    postprandial_high_days: int = Field(default=3, ge=1, le=14)
    postprandial_window_days: int = Field(default=7, ge=1, le=28)
    level1_events_for_reduction: int = Field(default=2, ge=1, le=20)
    level1_window_days: int = Field(default=7, ge=1, le=28)
    falling_fasting_days: int = Field(
        default=5, ge=3, le=28, description="in-range fasting days trending down"
    )
    falling_new_hypos: int = Field(default=1, ge=1, le=10)


class EligibilityRules(_Strict):
    min_age_years: float = Field(default=3, ge=0)
    max_age_years: float = Field(default=35, ge=0)
    max_weeks_since_diagnosis: float = Field(default=9, ge=0)
    max_bmi: float = Field(default=30, gt=0)


class AllocationMethod(StrEnum):
    named = "named"  # the enrolling staff names the arm (required when the study has arms)
    list = "list"  # the next free slot of the randomisation list for the site and stratum; nobody names it


class AllocationRules(_Strict):
    method: AllocationMethod = Field(
        default=AllocationMethod.named,
        description="named: the enrolment names the arm; list: the statistician's randomisation list assigns it "
        "(blinded coordinators enrol without learning the arm)",
    )


class AdherenceRules(_Strict):
    fasting_reminder_local_time: time = time(10, 0)
    days_without_entries_alert: int = Field(default=3, ge=1, le=30)


class DiaryRules(_Strict):
    run_in_days: int = Field(
        default=14,
        ge=0,
        le=90,
        description="days before day 0 (the treatment date) whose diary study staff may enter retrospectively,"
        " before enrolment: the baseline insulin period",
    )


class ProtocolSettings(_Strict):
    """A study's protocol configuration; a study stores a versioned copy and may override any field."""

    glucose: GlucoseRules = GlucoseRules()
    episodes: EpisodeRules = EpisodeRules()
    visits: VisitPlan = VisitPlan()
    dose_review: DoseReviewRules = DoseReviewRules()
    eligibility: EligibilityRules = EligibilityRules()
    allocation: AllocationRules = AllocationRules()
    adherence: AdherenceRules = AdherenceRules()
    diary: DiaryRules = DiaryRules()
    alert_fold_hours: int = Field(
        default=24, ge=0, le=720, description="repeats join an open alert this long"
    )
    time_frame_months: int = Field(default=3, ge=1, le=12)
    exercise_regimen_sessions_per_week: int = Field(default=3, ge=0, le=14)
    exercise_regimen_minutes_per_session: int = Field(default=60, ge=0, le=600)


DEFAULT_PROTOCOL = ProtocolSettings()


def _deep_merge(base: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def with_overrides(base: ProtocolSettings, overrides: dict[str, object]) -> ProtocolSettings:
    """`base` with a partial document laid over it (one threshold may change alone); validates the result."""
    return ProtocolSettings.model_validate(_deep_merge(base.model_dump(mode="json"), overrides))
