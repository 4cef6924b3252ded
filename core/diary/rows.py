"""Diary rows: the tables, the participant's feed counter, a new entry's row and its versions' audit records,
bulk inserts, validation (with the run-in days and links) and the rules' outcome on a row.

The building blocks of the single and batch writes (core/diary/service.py, core/diary/batch.py) and of
re-judging (core/diary/rejudge.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.access import Actor
from core.config import get_settings
from core.db import insert_for
from core.diary import entries, links
from core.diary.entries import NewEntry, Row, SourceApp
from core.diary.kinds import EntryModel
from core.diary.parsing import canonical_hash, parse_entry
from core.errors import Conflict, FieldProblem
from core.models.diary import DiaryEntry, DiaryEntryVersion, DiarySequence, GlucoseReading
from core.models.people import Role
from core.models.study import Participant
from core.protocol import ProtocolSettings
from core.rules import lookups as rule_lookups

ENTRY_TABLE = DiaryEntry.__table__  # type: ignore[attr-defined]
GLUCOSE_TABLE = GlucoseReading.__table__  # type: ignore[attr-defined]
VERSION_TABLE = DiaryEntryVersion.__table__  # type: ignore[attr-defined]
SEQUENCE_TABLE = DiarySequence.__table__  # type: ignore[attr-defined]


async def bump_sequence(*, session: AsyncSession, participant_id: uuid.UUID, count: int = 1) -> int:
    """Reserve `count` feed positions for the participant and lock their counter until commit; the last one."""
    statement = insert_for(session, SEQUENCE_TABLE).values(
        participant_id=participant_id, last_change_seq=count
    )
    statement = statement.on_conflict_do_update(
        index_elements=["participant_id"],
        set_={"last_change_seq": SEQUENCE_TABLE.c.last_change_seq + count},
    ).returning(SEQUENCE_TABLE.c.last_change_seq)
    return int((await session.execute(statement)).scalar_one())


def version_values(
    row: Row, *, op: str, actor: Actor, at: datetime, reason: str | None, mg_dl_per_mmol_l: float | None
) -> dict[str, Any]:
    """The version row of `row` as it stands: its audit record with who, when and why."""
    return {
        "entry_id": row.id,
        "version": row.version,
        "op": op,
        "audit_record": entries.audit_record(row, mg_dl_per_mmol_l),
        "changed_by_user_id": actor.user_id,
        "changed_by_role": actor.role.value,
        "changed_at": at,
        "reason": reason,
    }


def new_row(
    entry: EntryModel,
    *,
    participant: Participant,
    actor: Actor,
    relationship: str,
    source: SourceApp,
    received_at: datetime,
    change_seq: int,
    body_hash: str | None = None,
) -> NewEntry:
    values = entries.timing_values(entry)
    late = entries.is_late(
        values["occurred_at"], values["entered_at"], received_at, get_settings().diary.late_after_hours
    )
    row = NewEntry(
        id=entry.id,
        participant_id=participant.id,
        kind=entry.kind,  # type: ignore[attr-defined]
        received_at=received_at,
        updated_at=received_at,
        recorded_by_user_id=actor.user_id,
        recorded_by_role=actor.role.value,
        relationship=relationship,
        source_app=source.name,
        source_app_version=source.version,
        version=1,
        voided=False,
        void_reason=None,
        late=late,
        run_in=is_run_in(values["local_date"], participant),
        flags=[],
        alert_ids=[],
        body_hash=body_hash or canonical_hash(entry),
        change_seq=change_seq,
        **values,
    )
    return row


def row_values(row: Row) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in ENTRY_TABLE.columns}


def validate_entry(
    entry_in: Any, *, participant: Participant, prefix: str = "", run_in: entries.RunIn | None = None
) -> EntryModel:
    """Parse and check one entry against the ranges, the clock and the participant's enrolment (`run_in`: the
    run-in days the caller may enter before it, see `run_in_for`)."""
    entry = parse_entry(entry_in, prefix)
    settings = get_settings().diary
    entries.check_timing(
        entry,
        now=clock.now(),
        skew_minutes=settings.future_skew_minutes,
        enrolled_on=entries.enrolment_day(participant.enrolled_at, participant.timezone),
        run_in=run_in,
        prefix=prefix,
    )
    return entry


# Who may enter run-in days before enrolment: staff copying the paper diary of the baseline period.
RUN_IN_ROLES = frozenset({Role.clinician, Role.coordinator})


async def run_in_for(
    *, session: AsyncSession, actor: Actor, participant: Participant
) -> entries.RunIn | None:
    """The run-in days (the protocol's `diary.run_in_days` before day 0) `actor` may enter; None for others."""
    if actor.role not in RUN_IN_ROLES:
        return None
    protocol, _ = await rule_lookups.protocol_for(session=session, study_id=participant.study_id)
    days = protocol.diary.run_in_days
    return entries.RunIn(participant.treatment_date - timedelta(days=days), days, participant.treatment_date)


def is_run_in(local_date: date, participant: Participant) -> bool:
    return local_date < entries.enrolment_day(participant.enrolled_at, participant.timezone)


def id_taken(entry_id: uuid.UUID) -> Conflict:
    """The one answer for an id that cannot be used: the same whether it is this diary's entry with another
    body or any other diary's entry, so it tells a caller nothing about other participants."""
    return Conflict(
        f"The id {entry_id} cannot be used for this entry: it is already taken. To change an entry you sent, "
        "edit it (PATCH); for a new entry, use a new id.",
        fields=[FieldProblem("id", f"{entry_id} is already taken; use a new UUID for a new entry")],
    )


async def check_links(
    *, session: AsyncSession, participant: Participant, entry: EntryModel, prefix: str = ""
) -> None:
    """The entry's meal_id / glucose_entry_id names an entry of the right kind of this participant."""
    kind: str = entry.kind  # type: ignore[attr-defined]
    link = links.link_of(kind, dict(entry))
    if link is None:
        return
    field, target, _ = link
    known = await links.kinds_of(session=session, participant_id=participant.id, ids=[target])
    links.check(kind, {field: target}, known, prefix=prefix)


async def protocol_of(
    *, session: AsyncSession, participant: Participant, kind: str | None = None
) -> tuple[ProtocolSettings, int] | None:
    """The study's protocol in force (for `kind`: only when a glucose entry needs its mg/dL factor)."""
    if kind is not None and kind != "glucose":
        return None
    return await rule_lookups.protocol_for(session=session, study_id=participant.study_id)


def factor_of(protocol: tuple[ProtocolSettings, int] | None) -> float | None:
    return protocol[0].glucose.mg_dl_per_mmol_l if protocol else None


def set_outcome(row: Row, flags: list[str], alert_ids: list[uuid.UUID]) -> bool:
    """The rules' flags and alerts on the row (nothing else of it changes); True when they changed."""
    alerts = list(row.alert_ids)
    alerts.extend(str(a) for a in alert_ids if str(a) not in alerts)
    if list(flags) == list(row.flags) and alerts == list(row.alert_ids):
        return False
    row.flags = list(flags)
    row.alert_ids = alerts
    return True


async def insert_new_rows(session: AsyncSession, rows: list[NewEntry], factor: float | None) -> None:
    """Insert entries (and their glucose rows) in bulk: one statement per table."""
    await insert_many(session, ENTRY_TABLE, [row_values(r) for r in rows])
    glucose = [entries.glucose_values(r, factor) for r in rows if r.kind == "glucose"]
    if glucose:
        await insert_many(session, GLUCOSE_TABLE, glucose)


async def insert_many(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows of one table in one go (SQLAlchemy's executemany: on PostgreSQL, multi-row INSERTs)."""
    if rows:
        await session.execute(table.insert(), rows)
