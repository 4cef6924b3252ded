"""Pure helpers of the diary: timing checks, row values, an entry's current state (what api/ answers from) and
each version's audit record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from core.diary import localtime
from core.diary.kinds import EntryModel
from core.diary.parsing import kind_data
from core.diary.units import to_mg_dl
from core.errors import FieldProblem, InvalidInput
from core.models.diary import DiaryEntry


@dataclass(slots=True)
class NewEntry:
    """A diary row about to be written with Core inserts: DiaryEntry's attributes, built far faster than the
    ORM class (a batch makes a thousand)."""

    id: uuid.UUID
    participant_id: uuid.UUID
    kind: str
    occurred_at: datetime
    utc_offset_minutes: int
    local_date: date
    entered_at: datetime | None
    received_at: datetime
    updated_at: datetime
    recorded_by_user_id: uuid.UUID
    recorded_by_role: str
    relationship: str
    source_app: str | None
    source_app_version: str | None
    note: str | None
    version: int
    voided: bool
    void_reason: str | None
    late: bool
    run_in: bool
    flags: list[str]
    alert_ids: list[str]
    data: dict[str, Any]
    body_hash: str
    change_seq: int


# an entry row, stored (ORM) or about to be
Row = DiaryEntry | NewEntry


@dataclass(frozen=True)
class SourceApp:
    """The app an entry was sent from (api/headers.py reads it off the User-Agent)."""

    name: str | None = None
    version: str | None = None


def utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enrolment_day(enrolled_at: datetime, zone: str) -> date:
    return enrolled_at.astimezone(ZoneInfo(zone)).date()


def _refuse(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"The entry is not valid: {message}", fields=[FieldProblem(path, message)])


@dataclass(frozen=True)
class RunIn:
    """The run-in days before day 0 that study staff may enter retrospectively: from `first_day` on."""

    first_day: date
    days: int
    day_0: date


def check_timing(
    entry: EntryModel,
    *,
    now: datetime,
    skew_minutes: int,
    enrolled_on: date,
    run_in: RunIn | None = None,
    prefix: str = "",
) -> None:
    """occurred_at neither beyond the allowed clock skew in the future nor before the enrolment day (staff,
    given `run_in`, may enter the run-in days before it); entered_at (device time of entry) neither in that
    future nor before occurred_at."""
    path = f"{prefix}.occurred_at" if prefix else "occurred_at"
    latest = now + timedelta(minutes=skew_minutes)
    if entry.occurred_at > latest:
        raise _refuse(
            path,
            f"occurred_at {entry.occurred_at.isoformat()} is in the future: at most {skew_minutes} minutes "
            f"after the server time {utc_text(now)} is allowed",
        )
    day = localtime.local_date(entry.occurred_at, localtime.offset_minutes(entry.occurred_at))
    if day < enrolled_on and (run_in is None or day < run_in.first_day):
        before = (
            f"occurred_at {entry.occurred_at.isoformat()} is before the participant's enrolment on "
            f"{enrolled_on.isoformat()}"
        )
        if run_in is None:
            raise _refuse(path, f"{before}; run-in days before enrolment are entered by study staff")
        raise _refuse(
            path,
            f"{before}; run-in days start on {run_in.first_day.isoformat()} ({run_in.days} days before "
            f"day 0 on {run_in.day_0.isoformat()})",
        )
    entered = entry.entered_at
    if entered is None:
        return
    path = f"{prefix}.entered_at" if prefix else "entered_at"
    if entered > latest:
        raise _refuse(
            path,
            f"entered_at {entered.isoformat()} is in the future: at most {skew_minutes} minutes after the "
            f"server time {utc_text(now)} is allowed",
        )
    if entered < entry.occurred_at:
        raise _refuse(
            path,
            f"entered_at {entered.isoformat()} is before occurred_at {entry.occurred_at.isoformat()}: "
            "an entry is entered when or after it happens",
        )


def is_late(occurred_at: datetime, entered_at: datetime | None, received_at: datetime, hours: int) -> bool:
    """Entered (device time, else receipt) more than `hours` after it happened: flagged, never refused."""
    return (entered_at or received_at) - occurred_at > timedelta(hours=hours)


def timing_values(entry: EntryModel) -> dict[str, Any]:
    offset = localtime.offset_minutes(entry.occurred_at)
    occurred = entry.occurred_at.astimezone(UTC)
    return {
        "occurred_at": occurred,
        "utc_offset_minutes": offset,
        "local_date": localtime.local_date(occurred, offset),
        "entered_at": entry.entered_at.astimezone(UTC) if entry.entered_at else None,
        "note": entry.note,
        "data": kind_data(entry),
    }


def input_document(row: Row) -> dict[str, Any]:
    """The entry as a client would send it now (original offset kept), for merging an edit into."""
    zone = timezone(timedelta(minutes=row.utc_offset_minutes))
    return {
        "id": str(row.id),
        "kind": row.kind,
        "occurred_at": row.occurred_at.astimezone(zone).isoformat(),
        "entered_at": row.entered_at.isoformat() if row.entered_at else None,
        "note": row.note,
        **row.data,
    }


def _factor(row: Row, mg_dl_per_mmol_l: float | None) -> float:
    if mg_dl_per_mmol_l is None:
        raise ValueError(f"glucose entry {row.id}: the protocol's mg/dL per mmol/L factor is required")
    return mg_dl_per_mmol_l


def glucose_values(row: Row, mg_dl_per_mmol_l: float | None) -> dict[str, Any]:
    """The typed glucose row of a glucose entry; `mg_dl_per_mmol_l`: the study protocol's factor."""
    data = row.data
    return {
        "entry_id": row.id,
        "participant_id": row.participant_id,
        "occurred_at": row.occurred_at,
        "local_date": row.local_date,
        "value": data["value"],
        "unit": data["unit"],
        "value_mg_dl": value_mg_dl(row, mg_dl_per_mmol_l),
        "context": data["context"],
        "minutes_after_meal": data.get("minutes_after_meal"),
        "meal_id": uuid.UUID(data["meal_id"]) if data.get("meal_id") else None,
        "source": data.get("source"),
        "voided": row.voided,
    }


# an entry's current state by column name (DiaryEntry's columns but the bookkeeping ones, and a reading's
# canonical `value_mg_dl`): what api/ renders answers from; the diary's reads select exactly these names
STATE_COLUMNS = tuple(
    column.name
    for column in DiaryEntry.__table__.columns  # type: ignore[attr-defined]
    if column.name not in ("body_hash", "change_seq")
)


def value_mg_dl(row: Row, mg_dl_per_mmol_l: float | None) -> float | None:
    """A reading's canonical mg/dL (the protocol's factor for mmol/L); None for the other kinds."""
    if row.kind != "glucose":
        return None
    return to_mg_dl(row.data["value"], row.data["unit"], _factor(row, mg_dl_per_mmol_l))


def state(row: Row, mg_dl_per_mmol_l: float | None) -> dict[str, Any]:
    """The entry as it stands now (see STATE_COLUMNS), from a row in hand."""
    values = {name: getattr(row, name) for name in STATE_COLUMNS}
    values["value_mg_dl"] = value_mg_dl(row, mg_dl_per_mmol_l)
    return values


def audit_record(row: Row, mg_dl_per_mmol_l: float | None) -> dict[str, Any]:
    """The version's full snapshot, kept for good in `diary_entry_version.audit_record`: the entry exactly as it
    stood at that version (JSON-ready; the entry history answers it and the rules compare an edit with it).

    Its shape is frozen with the records already stored; answers are rendered by api/ from the current state and
    may change shape with a new API version without touching it.
    """
    record: dict[str, Any] = {
        "id": str(row.id),
        "kind": row.kind,
        "participant_id": str(row.participant_id),
        "occurred_at": utc_text(row.occurred_at),
        "utc_offset_minutes": row.utc_offset_minutes,
        "local_date": row.local_date.isoformat(),
        "entered_at": utc_text(row.entered_at),
        "note": row.note,
        **row.data,
        "version": row.version,
        "recorded_by": {
            "user_id": str(row.recorded_by_user_id),
            "role": row.recorded_by_role,
            "relationship": row.relationship,
        },
        "received_at": utc_text(row.received_at),
        "updated_at": utc_text(row.updated_at),
        "source_app": row.source_app,
        "source_app_version": row.source_app_version,
        "late": row.late,
        "run_in": row.run_in,
        "voided": row.voided,
        "void_reason": row.void_reason,
        "flags": list(row.flags),
        "alerts": list(row.alert_ids),
    }
    canonical = value_mg_dl(row, mg_dl_per_mmol_l)
    if canonical is not None:
        record["value_mg_dl"] = round(canonical, 1)
    return record
