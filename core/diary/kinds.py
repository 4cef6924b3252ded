"""Every entry kind of API.md as a strict model, and parsing with errors a person can act on (pure, no database).

Ranges are checked here (plausible values, CLINICAL.md A1); checks that need the participant or the clock
(enrolment, future times) live in the service. Each error names the field path, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.diary.units import MG_DL, MMOL_L, PLAUSIBLE
from core.errors import FieldProblem, InvalidInput


class Kind(StrEnum):
    glucose = "glucose"
    insulin = "insulin"
    meal = "meal"
    exercise = "exercise"
    illness = "illness"
    hypo_event = "hypo_event"
    weight = "weight"


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


class _EntryBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)

    id: uuid.UUID = Field(description="client-generated UUID: the idempotency key")
    occurred_at: AwareDatetime = Field(description="when it happened, with the UTC offset lived at the time")
    entered_at: AwareDatetime | None = Field(default=None, description="device time of entry")
    note: str | None = Field(default=None, max_length=2000)


class GlucoseContext(StrEnum):
    fasting = "fasting"
    pre_meal = "pre_meal"
    postprandial = "postprandial"
    bedtime = "bedtime"
    overnight = "overnight"
    random = "random"


class GlucoseEntryIn(_EntryBase):
    kind: Literal["glucose"]
    unit: Literal["mg/dL", "mmol/L"]
    value: float = Field(description="as entered: 10-600 mg/dL or 0.6-33.3 mmol/L")
    context: GlucoseContext
    minutes_after_meal: Annotated[int | None, _ranged("minutes_after_meal", 0, 360, "min")] = None
    meal_id: uuid.UUID | None = None
    source: Literal["meter", "cgm", "lab", "manual"] | None = None

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
    units: Annotated[float, _ranged("units", 0, 150, "IU", low_open=True)]
    insulin_type: Literal["rapid", "short", "intermediate", "long", "premixed"]
    purpose: Literal["basal", "meal", "correction"]
    product: str | None = Field(default=None, max_length=80)
    delivery: Literal["pen", "syringe", "pump"] | None = None
    site: str | None = Field(default=None, max_length=40, description="injection site")


class MealEntryIn(_EntryBase):
    kind: Literal["meal"]
    carbs_g: Annotated[float | None, _ranged("carbs_g", 0, 500, "g")] = None
    meal_type: Literal["breakfast", "lunch", "dinner", "snack"] | None = None


class ExerciseEntryIn(_EntryBase):
    kind: Literal["exercise"]
    activity: str = Field(min_length=1, max_length=80)
    duration_min: Annotated[int, _ranged("duration_min", 1, 720, "min")]
    intensity: Literal["light", "moderate", "vigorous"]


class IllnessEntryIn(_EntryBase):
    kind: Literal["illness"]
    illness_type: Literal["respiratory", "gastrointestinal", "fever", "other"]
    severity: Literal["mild", "moderate", "severe"]
    ended_at: AwareDatetime | None = None
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
    symptom_list: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None, max_length=20
    )
    needed_assistance: bool
    treatment: list[Literal["oral_carbohydrate", "glucagon", "emergency_services"]] = Field(max_length=3)
    unconscious_or_seizure: bool
    glucose_entry_id: uuid.UUID | None = None


class WeightEntryIn(_EntryBase):
    kind: Literal["weight"]
    kg: Annotated[float, _ranged("kg", 5, 250, "kg")]


EntryIn = Annotated[
    GlucoseEntryIn
    | InsulinEntryIn
    | MealEntryIn
    | ExerciseEntryIn
    | IllnessEntryIn
    | HypoEventEntryIn
    | WeightEntryIn,
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
}
ENTRY_ADAPTER: TypeAdapter[Any] = TypeAdapter(EntryIn)
KINDS_TEXT = ", ".join(MODEL_BY_KIND)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems_of(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """FieldProblems from pydantic errors: the path without the union's tag, the value and what is allowed."""
    fields = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] in MODEL_BY_KIND:
            loc = loc[1:]  # the discriminated union's tag is noise to a reader
        kind_error = err["type"] in ("union_tag_invalid", "union_tag_not_found")
        path = "kind" if kind_error else ".".join(loc)
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        if kind_error:
            got = err["input"].get("kind") if isinstance(err["input"], dict) else None
            message = f"kind must be one of {KINDS_TEXT} (got {_short(got)})"
        elif err["type"] == "missing":
            message = "field required"
        elif err["type"] == "extra_forbidden":
            message = f"unknown field (got {_short(err['input'])})"
        elif err["type"] in ("out_of_range", "ends_before_start"):
            message = err["msg"]
        elif err["type"] in ("model_attributes_type", "model_type", "dict_type"):
            message = f"an entry must be a JSON object (got {_short(err['input'])})"
        else:
            message = f"{err['msg']} (got {_short(err['input'])})"
        fields.append(FieldProblem(path or "body", message))
    return fields


def invalid(fields: list[FieldProblem]) -> InvalidInput:
    summary = "; ".join(f"{f.path}: {f.message}" for f in fields[:3])
    return InvalidInput(f"The entry is not valid: {summary}", fields=fields)


def parse_entry(raw: Any, prefix: str = "") -> _EntryBase:
    """One entry of any kind, validated; InvalidInput naming each bad field otherwise."""
    try:
        return ENTRY_ADAPTER.validate_python(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise invalid(problems_of(exc, prefix)) from None


def parse_kind(kind: str, raw: dict[str, Any]) -> _EntryBase:
    """Re-validate a merged edit as its (unchangeable) kind."""
    try:
        return MODEL_BY_KIND[kind].model_validate(raw)
    except ValidationError as exc:
        raise invalid(problems_of(exc)) from None


def canonical_hash(entry: _EntryBase) -> str:
    """sha256 of the entry's canonical JSON: the same entry sent twice, in any key order, hashes the same."""
    document = entry.model_dump(mode="json")
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def kind_data(entry: _EntryBase) -> dict[str, Any]:
    """The kind's own fields (API.md names), JSON-ready, for the entry's `data` column."""
    return entry.model_dump(mode="json", exclude=set(COMMON_FIELDS))


EntryModel = _EntryBase
