"""Request and response bodies of the alert inbox and dose-review decisions (no arm information, ever)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.models.alerts import AlertStatus, DoseDecision, Severity
from core.rules.lifecycle import AlertView
from core.text import SafeText


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertEntryLink(BaseModel):
    entry_id: uuid.UUID
    entry_version: int = Field(
        description="the version of the entry that caused, joined or is evidence of the alert"
    )
    cause_status: str = Field(
        description="current, or since: corrected, voided, or rejudged (a meal logged later changed its judgement)"
    )


class AlertPublic(BaseModel):
    id: uuid.UUID
    kind: str
    category: str = Field(description="safety or dose_review")
    severity: Severity
    status: AlertStatus
    participant_id: uuid.UUID
    subject_code: str
    entry_ids: list[uuid.UUID]
    entries: list[AlertEntryLink]
    rule: str
    protocol_version: int
    occurrences: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    cause_changed: bool = Field(
        description="an entry that caused it was corrected, voided or re-judged since"
    )
    details: dict[str, Any] = Field(description="evidence and context; for dose review the suggestion itself")
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    resolution_note: str | None
    decision: DoseDecision | None
    decision_note: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: AlertView) -> AlertPublic:
        a = view.alert
        return cls(
            id=a.id,
            kind=a.kind,
            category=a.category,
            severity=Severity(a.severity),
            status=AlertStatus(a.status),
            participant_id=a.participant_id,
            subject_code=view.subject_code,
            entry_ids=[link.entry_id for link in view.entries],
            entries=[
                AlertEntryLink(
                    entry_id=e.entry_id, entry_version=e.entry_version, cause_status=e.cause_status
                )
                for e in view.entries
            ],
            rule=a.rule,
            protocol_version=a.protocol_version,
            occurrences=a.occurrences,
            first_occurred_at=a.first_occurred_at,
            last_occurred_at=a.last_occurred_at,
            cause_changed=a.cause_changed,
            details=a.details,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            resolved_by=a.resolved_by,
            resolved_at=a.resolved_at,
            resolution_note=a.resolution_note,
            decision=DoseDecision(a.decision) if a.decision else None,
            decision_note=a.decision_note,
            decided_by=a.decided_by,
            decided_at=a.decided_at,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class AlertPage(Page[AlertPublic]):
    """A page of alerts."""


class AlertResolve(_Body):
    note: SafeText = Field(min_length=1, max_length=2000)


class DoseReviewDecision(_Body):
    decision: DoseDecision
    note: SafeText = Field(min_length=1, max_length=2000)
