"""Request and response bodies of study visits: the plan, completion with lab results, missed, cancelled."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.models.visits import Visit, VisitStatus
from core.text import SafeText
from core.visits.results import RANGES


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _result(name: str, what: str) -> Any:
    allowed = RANGES[name]
    return Field(default=None, description=f"{what}, {allowed.low:g}-{allowed.high:g} {allowed.unit}")


class VisitComplete(_Body):
    completed_on: date = Field(
        description="the participant-local date of the visit (outside the window: flagged)"
    )
    hba1c_percent: float | None = _result("hba1c_percent", "HbA1c (NGSP %)")
    c_peptide_fasting_ng_ml: float | None = _result("c_peptide_fasting_ng_ml", "fasting C-peptide")
    c_peptide_stimulated_ng_ml: float | None = _result("c_peptide_stimulated_ng_ml", "stimulated C-peptide")
    glucose_fasting_mg_dl: float | None = _result("glucose_fasting_mg_dl", "fasting glucose, same sample")
    glucose_fasting_mmol_l: float | None = _result(
        "glucose_fasting_mmol_l", "fasting glucose in mmol/L instead of mg/dL"
    )
    weight_kg: float | None = _result("weight_kg", "body weight")
    height_cm: float | None = _result("height_cm", "height (default: the height at enrolment)")
    reason: SafeText | None = Field(
        default=None, min_length=3, max_length=500, description="required to correct a completed visit"
    )
    version: int | None = Field(default=None, ge=1, description="the version you read; stale -> 409")

    def results(self) -> dict[str, float | None]:
        return self.model_dump(exclude={"completed_on", "reason", "version"})


class VisitReason(_Body):
    reason: SafeText = Field(min_length=3, max_length=500)
    version: int | None = Field(default=None, ge=1, description="the version you read; stale -> 409")


class VisitPublic(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    label: str = Field(description='"M1", "M3", ...: the month after day 0')
    month: int
    target_date: date = Field(description="participant-local date")
    window_start: date
    window_end: date
    status: VisitStatus
    completed_on: date | None
    outside_window: bool | None = Field(description="completed outside its window (None until completed)")
    results: dict[str, float] = Field(
        description="as entered (unit in each name) plus the derived hba1c_mmol_mol, cpgr, bmi, idaa1c "
        "where computable; IDAA1c uses the mean daily insulin of the 3 local days before the visit"
    )
    reason: str | None = Field(description="why it was missed, cancelled or corrected")
    protocol_version: int
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, visit: Visit) -> VisitPublic:
        fields = visit.model_dump(
            warnings=False
        )  # a row written in this request may hold a str where it reads back an enum
        return cls.model_validate({**fields, "results": {**visit.results, **visit.derived}})


class VisitList(BaseModel):
    items: list[VisitPublic]


class StudyVisitPublic(VisitPublic):
    subject_code: str
    site_code: str

    @classmethod
    def of_row(cls, visit: Visit, subject_code: str, site_code: str) -> StudyVisitPublic:
        return cls(**VisitPublic.of(visit).model_dump(), subject_code=subject_code, site_code=site_code)


class StudyVisitPage(Page[StudyVisitPublic]):
    """A page of the study's visit calendar."""
