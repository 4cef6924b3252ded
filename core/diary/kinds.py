"""Every entry kind of API.md as a strict model (pure, no database); parsing and its errors: core/diary/parsing.py.

Ranges are checked here (plausible values, CLINICAL.md A1); checks that need the participant or the clock
(enrolment, future times) live in the service. Each error names the field path, the value and what is allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.diary.units import MG_DL, MMOL_L, PLAUSIBLE
from core.text import SafeText


class Kind(StrEnum):
    glucose = "glucose"
    insulin = "insulin"
    meal = "meal"
    exercise = "exercise"
    illness = "illness"
    hypo_event = "hypo_event"
    weight = "weight"
    insulin_status = "insulin_status"


COMMON_FIELDS = frozenset({"id", "kind", "occurred_at", "entered_at", "note"})


def _number(value: float) -> str:
    return f"{value:g}"


def in_range(
    field: str, low: float, high: float, unit: str = "", *, low_open: bool = False
) -> Callable[[float], float]:
    """A validator: `low` <= value <= `high` (or low < value), with a message naming value and range."""
    suffix = f" {unit}" if unit else ""
    allowed = (
        f"more than {_number(low)} and at most {_number(high)}{suffix}"
        if low_open
        else f"{_number(low)}-{_number(high)}{suffix}"
    )

    def check(value: float) -> float:
        if value is None:  # an optional field sent as null
            return value
        if (value <= low if low_open else value < low) or value > high:
            raise PydanticCustomError(
                "out_of_range",
                "{field} {value}{suffix} is outside the allowed range {allowed}",
                {"field": field, "value": _number(value), "suffix": suffix, "allowed": allowed},
            )
        return value

    return check


def _ranged(field: str, low: float, high: float, unit: str = "", *, low_open: bool = False) -> Any:
    return AfterValidator(in_range(field, low, high, unit, low_open=low_open))


# Free text of an entry: any characters but NUL, which PostgreSQL cannot store (core.text).
Text = SafeText


# The UTC offsets in use on Earth run from -12:00 to +14:00; a time outside these years is a typo or a bug.
MAX_OFFSET = timedelta(hours=14)
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199


def _sane_moment(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise PydanticCustomError(
            "offset_out_of_range",
            "UTC offset {offset} is outside the allowed range -14:00 to +14:00 (got {value})",
            {"offset": value.isoformat()[-6:], "value": value.isoformat()},
        )
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "year_out_of_range",
            "the year {year} is outside the allowed range {low}-{high} (got {value})",
            {"year": value.year, "low": EARLIEST_YEAR, "high": LATEST_YEAR, "value": value.isoformat()},
        )
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_sane_moment)]
"""A time as ISO 8601 text with a UTC offset within +-14:00 (never a bare number, never without an offset)."""


class _EntryBase(BaseModel):
    # Strict: validated from JSON (parse_entry), so "95" is not a number, true is not 1, and a number is not a
    # time; UUIDs and times come as JSON strings, as JSON has no other way to carry them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True, strict=True)

    id: uuid.UUID = Field(description="client-generated UUID: the idempotency key")
    occurred_at: Moment = Field(description="when it happened, with the UTC offset lived at the time")
    entered_at: Moment | None = Field(default=None, description="device time of entry")
    note: Text | None = Field(default=None, max_length=2000)


class GlucoseContext(StrEnum):
    fasting = "fasting"
    pre_meal = "pre_meal"
    postprandial = "postprandial"
    bedtime = "bedtime"
    overnight = "overnight"
    random = "random"


class GlucoseUnit(StrEnum):
    """The unit a glucose value was entered in."""

    mg_dl = "mg/dL"
    mmol_l = "mmol/L"


class GlucoseSource(StrEnum):
    meter = "meter"
    cgm = "cgm"
    lab = "lab"
    manual = "manual"


class InsulinType(StrEnum):
    rapid = "rapid"
    short = "short"
    intermediate = "intermediate"
    long = "long"
    premixed = "premixed"


class InsulinPurpose(StrEnum):
    basal = "basal"
    meal = "meal"
    correction = "correction"


class InsulinDelivery(StrEnum):
    pen = "pen"
    syringe = "syringe"
    pump = "pump"


class MealType(StrEnum):
    breakfast = "breakfast"
    lunch = "lunch"
    dinner = "dinner"
    snack = "snack"


class ExerciseIntensity(StrEnum):
    light = "light"
    moderate = "moderate"
    vigorous = "vigorous"


class IllnessType(StrEnum):
    respiratory = "respiratory"
    gastrointestinal = "gastrointestinal"
    fever = "fever"
    other = "other"


class IllnessSeverity(StrEnum):
    mild = "mild"
    moderate = "moderate"
    severe = "severe"


class HypoTreatment(StrEnum):
    oral_carbohydrate = "oral_carbohydrate"
    glucagon = "glucagon"
    emergency_services = "emergency_services"


class InsulinStatus(StrEnum):
    """Insulin stopped, or started again, from occurred_at."""

    discontinued = "discontinued"
    resumed = "resumed"


class GlucoseEntryIn(_EntryBase):
    kind: Literal["glucose"]
    unit: GlucoseUnit
    value: float = Field(description="as entered: 10-600 mg/dL or 0.6-33.3 mmol/L")
    context: GlucoseContext
    minutes_after_meal: Annotated[int | None, _ranged("minutes_after_meal", 0, 360, "min")] = None
    meal_id: uuid.UUID | None = None
    source: GlucoseSource | None = None

    @field_validator("value")
    @classmethod
    def _plausible(cls, value: float, info: ValidationInfo) -> float:
        unit = info.data.get("unit")
        if unit in PLAUSIBLE:
            low, high = PLAUSIBLE[unit]
            if not low <= value <= high:
                other = MMOL_L if unit == MG_DL else MG_DL
                o_low, o_high = PLAUSIBLE[other]
                raise PydanticCustomError(
                    "out_of_range",
                    "value {value} {unit} is outside the allowed range {low}-{high} {unit} "
                    "({o_low}-{o_high} {other})",
                    {
                        "value": _number(value),
                        "unit": unit,
                        "low": _number(low),
                        "high": _number(high),
                        "o_low": _number(o_low),
                        "o_high": _number(o_high),
                        "other": other,
                    },
                )
        return value


class InsulinEntryIn(_EntryBase):
    kind: Literal["insulin"]
    units: Annotated[float, _ranged("units", 0, 150, "IU")]
    insulin_type: InsulinType
    purpose: InsulinPurpose
    product: Text | None = Field(default=None, max_length=80)
    delivery: InsulinDelivery | None = None
    site: Text | None = Field(default=None, max_length=40, description="injection site")


class MealEntryIn(_EntryBase):
    kind: Literal["meal"]
    carbs_g: Annotated[float | None, _ranged("carbs_g", 0, 500, "g")] = None
    meal_type: MealType | None = None


class ExerciseEntryIn(_EntryBase):
    kind: Literal["exercise"]
    activity: Text = Field(min_length=1, max_length=80)
    duration_min: Annotated[int, _ranged("duration_min", 1, 720, "min")]
    intensity: ExerciseIntensity


class IllnessEntryIn(_EntryBase):
    kind: Literal["illness"]
    illness_type: IllnessType
    severity: IllnessSeverity
    ended_at: Moment | None = None
    ketones_mmol_l: Annotated[float | None, _ranged("ketones_mmol_l", 0, 10, "mmol/L")] = None
    hospital_visit: bool | None = None

    @field_validator("ended_at")
    @classmethod
    def _after_start(cls, ended_at: datetime | None, info: ValidationInfo) -> datetime | None:
        started = info.data.get("occurred_at")
        if ended_at is not None and started is not None and ended_at <= started:
            raise PydanticCustomError(
                "ends_before_start",
                "ended_at {ended} must be after occurred_at {started}",
                {"ended": ended_at.isoformat(), "started": started.isoformat()},
            )
        return ended_at


class HypoEventEntryIn(_EntryBase):
    kind: Literal["hypo_event"]
    symptoms: bool
    symptom_list: list[Annotated[Text, Field(min_length=1, max_length=80)]] | None = Field(
        default=None, max_length=20
    )
    needed_assistance: bool
    treatment: list[HypoTreatment] = Field(max_length=3)
    unconscious_or_seizure: bool
    glucose_entry_id: uuid.UUID | None = None


class WeightEntryIn(_EntryBase):
    kind: Literal["weight"]
    kg: Annotated[float, _ranged("kg", 5, 250, "kg")]


class InsulinStatusEntryIn(_EntryBase):
    """Insulin stopped (or started again) from occurred_at: the "discontinued" change category needs it."""

    kind: Literal["insulin_status"]
    status: InsulinStatus


EntryIn = Annotated[
    GlucoseEntryIn
    | InsulinEntryIn
    | MealEntryIn
    | ExerciseEntryIn
    | IllnessEntryIn
    | HypoEventEntryIn
    | WeightEntryIn
    | InsulinStatusEntryIn,
    Field(discriminator="kind"),
]
MODEL_BY_KIND: dict[str, type[_EntryBase]] = {
    "glucose": GlucoseEntryIn,
    "insulin": InsulinEntryIn,
    "meal": MealEntryIn,
    "exercise": ExerciseEntryIn,
    "illness": IllnessEntryIn,
    "hypo_event": HypoEventEntryIn,
    "weight": WeightEntryIn,
    "insulin_status": InsulinStatusEntryIn,
}
ENTRY_ADAPTER: TypeAdapter[Any] = TypeAdapter(EntryIn)
KINDS_TEXT = ", ".join(MODEL_BY_KIND)


EntryModel = _EntryBase
