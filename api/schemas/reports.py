"""Answer schemas of the study reports and their data dictionary (API.md: /studies/{study_id}/reports/...)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.pages import Page
from core.models.reports import ReportSnapshot
from core.reports.service import Report


class ReportFilters(BaseModel):
    site: str | None
    arm: str | None = Field(default=None, description="unblinded readers only")
    from_: date | None = Field(alias="from", serialization_alias="from")
    to: date = Field(description="the data cut actually used (exclusive): `to`, or the end of today")


class ReportAnswer(BaseModel):
    study_id: uuid.UUID
    report: str
    protocol_version: int
    generated_at: datetime
    filters: ReportFilters
    columns: list[str] = Field(description="the row columns, in CSV order (see the dictionary)")
    rows: list[dict[str, Any]] = Field(description="one per participant per time frame")
    aggregates: list[dict[str, Any]] = Field(
        description="per frame: per site, all sites, per arm if unblinded"
    )

    @classmethod
    def of(cls, report: Report) -> ReportAnswer:
        return cls(
            study_id=report.study_id,
            report=report.name,
            protocol_version=report.protocol_version,
            generated_at=report.generated_at,
            filters=ReportFilters.model_validate(report.filters),
            columns=[c.name for c in report.columns],
            rows=report.rows,
            aggregates=report.aggregates,
        )


class DictionaryItem(BaseModel):
    report: str
    table: str = Field(description="rows (CSV and JSON rows) or aggregates (JSON aggregates)")
    column: str
    type: str = Field(description="string, integer, number or date (ISO 8601)")
    unit: str | None
    definition: str
    source: str


class Dictionary(BaseModel):
    items: list[DictionaryItem]


class SnapshotCreate(BaseModel):
    model_config = {"extra": "forbid"}

    cut: date | None = Field(
        default=None,
        description="data cut, exclusive local date; default the end of today in the study's zone",
    )


class SnapshotPublic(BaseModel):
    id: uuid.UUID
    study_id: uuid.UUID
    cut: date
    protocol_version: int
    diary_change_position: int = Field(description="sum of the study's diary change positions at the cut")
    content_sha256: str
    size_bytes: int
    created_by: uuid.UUID
    created_at: datetime

    @classmethod
    def of(cls, snapshot: ReportSnapshot) -> SnapshotPublic:
        return cls.model_validate(snapshot, from_attributes=True)


class SnapshotPage(Page[SnapshotPublic]):
    pass
