"""Diary writes: idempotent creates, versioned edits and voids (reads: core/diary/reads.py).

Writes answer the entry's current state (core.diary.entries.state), which api/ renders; each version's audit
record goes to `diary_entry_version`. Every write first bumps the participant's feed counter (`diary_sequence`): the bump locks that row until
commit, so one participant's writes are serialised and the feed's order is the commit order (no reader can
see sequence 8 committed and later find a 7 appear). Rules run after each write in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core import access, clock
from core.access import Actor
from core.config import get_settings
from core.db import insert_for, is_postgres
from core.diary import entries, links, pg_create
from core.diary.entries import NewEntry, Row, SourceApp
from core.diary.kinds import EntryModel
from core.diary.parsing import canonical_hash, parse_kind
from core.diary.reads import entry_of
from core.diary.rejudge import name_alerts_on_evidence, rejudge_near_meal
from core.diary.rows import (
    ENTRY_TABLE,
    GLUCOSE_TABLE,
    VERSION_TABLE,
    bump_sequence,
    check_links,
    factor_of,
    id_taken,
    is_run_in,
    new_row,
    protocol_of,
    row_values,
    run_in_for,
    set_outcome,
    validate_entry,
    version_values,
)
from core.errors import Conflict, FieldProblem, InvalidInput, PreconditionFailed
from core.models.diary import DiaryEntry, DiaryEntryVersion
from core.models.study import Participant
from core.protocol import ProtocolSettings
from core.rules import service as rules_service
from core.text import refuse_nul

MAX_REASON = 2000


def _same_entry_or_conflict(stored: DiaryEntry, entry: EntryModel, participant: Participant) -> None:
    if stored.participant_id != participant.id or stored.body_hash != canonical_hash(entry):
        raise id_taken(entry.id)


async def apply_rules(
    *,
    session: AsyncSession,
    participant: Participant,
    row: Row,
    previous: dict[str, Any] | None,
    protocol: tuple[ProtocolSettings, int] | None = None,
) -> bool:
    """Run the protocol rules on a flushed entry; store its flags and alerts. True when they changed."""
    outcome = await rules_service.evaluate_entry(
        session=session,
        participant=participant,
        entry=row,
        previous=previous,
        protocol=protocol,
    )
    await name_alerts_on_evidence(session=session, participant=participant, outcomes=[outcome])
    return set_outcome(row, outcome.flags, outcome.alert_ids)


async def record_entry(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entry_in: Any,
    source: SourceApp | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store one entry idempotently: (its current state, True if new). Same id and body again: the stored
    entry; same id, different body: Conflict."""
    run_in = await run_in_for(session=session, actor=actor, participant=participant)
    entry = validate_entry(entry_in, participant=participant, run_in=run_in)
    await check_links(session=session, participant=participant, entry=entry)
    relationship = await access.relationship_to(session=session, actor=actor, participant=participant)
    # read first for a reading (its value_mg_dl uses the protocol's factor); the rules then need not read it
    protocol = await protocol_of(session=session, participant=participant, kind=entry.kind)  # type: ignore[attr-defined]
    row = new_row(
        entry,
        participant=participant,
        actor=actor,
        relationship=relationship,
        source=source or SourceApp(),
        received_at=clock.now(),
        change_seq=0,
    )
    factor = factor_of(protocol)
    first = version_values(
        row, op="create", actor=actor, at=row.received_at, reason=None, mg_dl_per_mmol_l=factor
    )
    glucose = entries.glucose_values(row, factor) if row.kind == "glucose" else None
    if is_postgres(session):
        created = await pg_create.create(session, row_values(row), first, glucose)
        if created is not None:
            row.change_seq = created[1]
    else:
        created = await _create_plain(session, row, first, glucose)
    if created is None:
        stored = await session.get(DiaryEntry, entry.id)
        if stored is None:  # pragma: no cover - the conflicting row cannot vanish under our lock
            raise Conflict(f"The entry {entry.id} could not be stored; please retry.")
        _same_entry_or_conflict(stored, entry, participant)
        return entries.state(stored, factor), False
    if await apply_rules(
        session=session,
        participant=participant,
        row=row,
        previous=None,
        protocol=protocol,
    ):
        await session.execute(
            update(ENTRY_TABLE)
            .where(ENTRY_TABLE.c.id == row.id)
            .values(flags=row.flags, alert_ids=row.alert_ids)
        )
        await session.execute(  # the first version's record completed with the rules' outcome
            update(VERSION_TABLE)
            .where(VERSION_TABLE.c.entry_id == row.id, VERSION_TABLE.c.version == 1)
            .values(audit_record=entries.audit_record(row, factor))
        )
    if row.kind == "meal":
        await rejudge_near_meal(
            session=session, actor=actor, participant=participant, meal_ids=[row.id], times=[row.occurred_at]
        )
    return entries.state(row, factor), True


async def _create_plain(
    session: AsyncSession, row: NewEntry, first: dict[str, Any], glucose: dict[str, Any] | None
) -> tuple[uuid.UUID, int] | None:
    """The same as core.diary.pg_create, one statement at a time (SQLite)."""
    row.change_seq = await bump_sequence(session=session, participant_id=row.participant_id)
    inserted = await session.execute(
        insert_for(session, ENTRY_TABLE)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(ENTRY_TABLE.c.id),
        row_values(row),
    )
    if inserted.scalar_one_or_none() is None:
        return None
    if glucose is not None:
        await session.execute(GLUCOSE_TABLE.insert(), glucose)
    await session.execute(VERSION_TABLE.insert(), first)
    return row.id, row.change_seq


def _reason(value: Any, path: str = "reason") -> str:
    if not isinstance(value, str) or not value.strip():
        message = f"a reason is required for every change (got {value!r})"
        raise InvalidInput(f"The change is not valid: {message}", fields=[FieldProblem(path, message)])
    refuse_nul(value, path=path)
    if len(value) > MAX_REASON:
        message = f"at most {MAX_REASON} characters (got {len(value)})"
        raise InvalidInput(f"The change is not valid: {path} {message}", fields=[FieldProblem(path, message)])
    return value.strip()


async def _locked_entry(
    *, session: AsyncSession, participant: Participant, entry_id: uuid.UUID
) -> tuple[DiaryEntry, int]:
    seq = await bump_sequence(session=session, participant_id=participant.id)
    row = await entry_of(session=session, participant=participant, entry_id=entry_id)
    if row.voided:
        raise Conflict(f"The entry {entry_id} was voided (version {row.version}); it cannot change any more.")
    return row, seq


def _check_version(row: DiaryEntry, *, body_version: Any, if_match: int | None) -> None:
    """`body_version`: the body's `version`; `if_match`: the version the If-Match header names."""
    if body_version is not None:
        if not isinstance(body_version, int) or isinstance(body_version, bool) or body_version < 1:
            message = f"the version being changed, a whole number >= 1 (got {body_version!r})"
            raise InvalidInput(
                f"The change is not valid: {message}", fields=[FieldProblem("version", message)]
            )
        if body_version != row.version:
            raise Conflict(
                f"The entry is at version {row.version}, not {body_version}: it changed since you read it. "
                "Nothing was changed; read it again and retry.",
                fields=[FieldProblem("version", f"stale: current version is {row.version}")],
            )
    if if_match is not None and if_match != row.version:
        raise PreconditionFailed(
            f"If-Match names version {if_match}, but the entry is at version {row.version}; nothing was changed."
        )


async def edit_entry(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entry_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: int | None = None,
) -> dict[str, Any]:
    """A new version of the entry with `changes` and a reason (its state answered); a stale version (the body's
    `version`, or `if_match`: the version an If-Match names) is refused and nothing changes."""
    changes = dict(changes)
    body_version = changes.pop("version", None)
    reason = _reason(changes.pop("reason", None))
    if body_version is None and if_match is None:
        message = "the version being changed (or an If-Match header) is required"
        raise InvalidInput(f"The change is not valid: {message}", fields=[FieldProblem("version", message)])
    row, seq = await _locked_entry(session=session, participant=participant, entry_id=entry_id)
    _check_version(row, body_version=body_version, if_match=if_match)
    for fixed in ("kind", "id"):
        if fixed in changes and str(changes[fixed]) != str(getattr(row, fixed)):
            message = f"{fixed} cannot change (is {getattr(row, fixed)}, got {changes[fixed]!r})"
            raise InvalidInput(f"The change is not valid: {message}", fields=[FieldProblem(fixed, message)])
    current = entries.input_document(row)
    merged = {**current, **changes}
    entry = parse_kind(row.kind, merged)
    link = links.LINKS.get(row.kind)
    if link is not None and str(merged.get(link[0])) != str(current.get(link[0])):
        await check_links(session=session, participant=participant, entry=entry)
    entries.check_timing(
        entry,
        now=clock.now(),
        skew_minutes=get_settings().diary.future_skew_minutes,
        enrolled_on=entries.enrolment_day(participant.enrolled_at, participant.timezone),
        run_in=await run_in_for(session=session, actor=actor, participant=participant),
    )
    values = entries.timing_values(entry)
    if all(getattr(row, name) == value for name, value in values.items()):
        message = "the change leaves the entry as it is"
        raise InvalidInput(f"Nothing to change: {message}.", fields=[FieldProblem("body", message)])
    protocol = await protocol_of(session=session, participant=participant, kind=row.kind)
    previous = entries.audit_record(row, factor_of(protocol))
    moved_from = row.occurred_at
    now = clock.now()
    for name, value in values.items():
        setattr(row, name, value)
    row.run_in = is_run_in(row.local_date, participant)
    row.late = entries.is_late(
        row.occurred_at, row.entered_at, row.received_at, get_settings().diary.late_after_hours
    )
    await _new_version(
        session=session,
        actor=actor,
        participant=participant,
        row=row,
        seq=seq,
        previous=previous,
        protocol=protocol,
        at=now,
        op="edit",
        reason=reason,
        meal_times=[moved_from, row.occurred_at] if row.occurred_at != moved_from else [],
    )
    return entries.state(row, factor_of(protocol))


async def _new_version(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    row: DiaryEntry,
    seq: int,
    previous: dict[str, Any],
    protocol: tuple[ProtocolSettings, int] | None,
    at: datetime,
    op: str,
    reason: str,
    meal_times: list[datetime],
) -> None:
    """Store the changed row as its next version: the glucose row follows, the rules judge it again, the
    version table keeps it whole with who, when and why, and a meal's readings around `meal_times` are
    judged again."""
    row.version += 1
    row.change_seq = seq
    row.updated_at = at
    factor = factor_of(protocol)
    await session.flush()
    if row.kind == "glucose":
        await _sync_glucose(session, row, factor)
    await apply_rules(session=session, participant=participant, row=row, previous=previous, protocol=protocol)
    record = version_values(row, op=op, actor=actor, at=at, reason=reason, mg_dl_per_mmol_l=factor)
    session.add(DiaryEntryVersion(**record))
    await session.flush()
    if row.kind == "meal" and meal_times:
        await rejudge_near_meal(
            session=session, actor=actor, participant=participant, meal_ids=[row.id], times=meal_times
        )


async def _sync_glucose(session: AsyncSession, row: DiaryEntry, factor: float | None) -> None:
    values = entries.glucose_values(row, factor)
    del values["entry_id"]
    await session.execute(update(GLUCOSE_TABLE).where(GLUCOSE_TABLE.c.entry_id == row.id).values(**values))


async def void_entry(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entry_id: uuid.UUID,
    reason: Any,
    if_match: int | None = None,
) -> dict[str, Any]:
    """Void (the diary's delete): a new version marked void with the reason; it stays in the history. Answers
    the entry's state; `if_match` as for edit_entry."""
    why = _reason(reason)
    row, seq = await _locked_entry(session=session, participant=participant, entry_id=entry_id)
    _check_version(row, body_version=None, if_match=if_match)
    protocol = await protocol_of(session=session, participant=participant, kind=row.kind)
    previous = entries.audit_record(row, factor_of(protocol))
    now = clock.now()
    row.voided = True
    row.void_reason = why
    await _new_version(
        session=session,
        actor=actor,
        participant=participant,
        row=row,
        seq=seq,
        previous=previous,
        protocol=protocol,
        at=now,
        op="void",
        reason=why,
        meal_times=[row.occurred_at],
    )
    return entries.state(row, factor_of(protocol))
