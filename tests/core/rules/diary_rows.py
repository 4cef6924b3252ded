"""Writes diary rows the way the diary service does (row flushed, rules run, flags stored), for rule tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.diary.entries import audit_record, glucose_values
from core.diary.localtime import local_date, offset_minutes
from core.models.alerts import Alert
from core.models.diary import DiaryEntry, GlucoseReading
from core.models.study import Participant
from core.rules import service as rules_service

_seq = itertools.count(1)


async def new_row(
    session: AsyncSession, participant: Participant, kind: str, at: datetime, **data: Any
) -> DiaryEntry:
    """A stored, not yet judged entry of `kind` at the aware local time `at` (with its glucose row)."""
    occurred = at.astimezone(UTC)
    offset = offset_minutes(at)
    row = DiaryEntry(
        id=uuid.uuid4(),
        participant_id=participant.id,
        kind=kind,
        occurred_at=occurred,
        utc_offset_minutes=offset,
        local_date=local_date(occurred, offset),
        received_at=occurred,
        updated_at=occurred,
        recorded_by_user_id=participant.user_id,
        recorded_by_role="participant",
        relationship="self",
        data=data,
        body_hash="x" * 64,
        change_seq=next(_seq),
    )
    session.add(row)
    await session.flush()
    if kind == "glucose":
        session.add(GlucoseReading(**glucose_values(row, 18.016)))
        await session.flush()
    return row


async def write(
    session: AsyncSession, participant: Participant, kind: str, at: datetime, **data: Any
) -> tuple[DiaryEntry, rules_service.RuleOutcome]:
    """A new entry of `kind` at the aware local time `at` with fields `data`, evaluated like the diary does."""
    row = await new_row(session, participant, kind, at, **data)
    outcome = await rules_service.evaluate_entry(session=session, participant=participant, entry=row)
    row.flags = outcome.flags
    row.alert_ids = [str(a) for a in outcome.alert_ids]
    await session.flush()
    return row, outcome


async def change(
    session: AsyncSession,
    participant: Participant,
    row: DiaryEntry,
    *,
    void: bool = False,
    note: str | None = None,
    **data: Any,
) -> rules_service.RuleOutcome:
    """An edit (new field values) or a void of `row`, evaluated with the previous version's audit record."""
    previous = audit_record(row, 18.016)
    row.version += 1
    row.change_seq = next(_seq)
    if note is not None:
        row.note = note
    if void:
        row.voided = True
    else:
        row.data = {**row.data, **data}
    reading = await session.get(GlucoseReading, row.id)
    if reading is not None:
        for name, value in glucose_values(row, 18.016).items():
            setattr(reading, name, value)
    await session.flush()
    outcome = await rules_service.evaluate_entry(
        session=session, participant=participant, entry=row, previous=previous
    )
    row.flags = outcome.flags
    await session.flush()
    return outcome


def _details(kind: str, category: str, now: datetime) -> dict[str, Any]:
    """Details shaped as the rules write them for each kind (api/schemas/alerts.py validates them)."""
    if category == "dose_review":
        return {
            "suggestion": "Review an increase of basal insulin.",
            "days": [],
            "readings": [],
            "hypoglycemia_reports": [],
            "numbers": {},
            "context": {"illness_days": [], "exercise_days": []},
            "applied_automatically": False,
        }
    if kind.startswith(("hypoglycemia", "severe_hypoglycemia")):
        return {"flag": kind, "local_date": now.date().isoformat(), "value": 50, "unit": "mg/dL"}
    return {"reasons": ["illness reported"], "local_date": now.date().isoformat()}


async def create_alert(session: AsyncSession, participant: Participant, **overrides: Any) -> Alert:
    """An open alert of `participant` (a dose-review suggestion unless overridden), flushed."""
    now = clock.now()
    values: dict[str, Any] = {
        "participant_id": participant.id,
        "study_id": participant.study_id,
        "site_id": participant.site_id,
        "kind": "dose_review_basal_increase",
        "category": "dose_review",
        "severity": "info",
        "rule": "dose_review.basal_increase",
        "protocol_version": 1,
        "fold_key": "dose_review_basal_increase",
        "first_occurred_at": now,
        "last_occurred_at": now,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    values.setdefault("details", _details(values["kind"], values["category"], now))
    alert = Alert(**values)
    session.add(alert)
    await session.flush()
    return alert
