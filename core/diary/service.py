"""Diary writes and reads: idempotent creates, versioned edits and voids, history, lists and the changes feed.

Every write first bumps the participant's feed counter (`diary_sequence`): the bump locks that row until
commit, so one participant's writes are serialised and the feed's order is the commit order (no reader can
see sequence 8 committed and later find a 7 appear). Rules run after each write in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, clock
from core.access import Actor
from core.config import get_settings
from core.db import insert_for, is_postgres
from core.diary import entries, links, pg_create
from core.diary.entries import NewEntry, Row, SourceApp
from core.diary.kinds import EntryModel, canonical_hash, parse_entry, parse_kind
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound, PreconditionFailed
from core.models.diary import DiaryEntry, DiaryEntryVersion, DiarySequence, GlucoseReading
from core.models.people import Role
from core.models.study import Participant
from core.pagination import Page, SortKey, decode_cursor, encode_cursor, malformed, paginate
from core.protocol import ProtocolSettings
from core.rules import service as rules_service
from core.text import refuse_nul

ENTRY_TABLE = DiaryEntry.__table__  # type: ignore[attr-defined]
GLUCOSE_TABLE = GlucoseReading.__table__  # type: ignore[attr-defined]
VERSION_TABLE = DiaryEntryVersion.__table__  # type: ignore[attr-defined]
SEQUENCE_TABLE = DiarySequence.__table__  # type: ignore[attr-defined]
MAX_REASON = 2000
NEWEST_FIRST = (
    SortKey(col(DiaryEntry.occurred_at), datetime, descending=True),
    SortKey(col(DiaryEntry.id), uuid.UUID, descending=True),
)


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


def version_values(row: Row, *, op: str, actor: Actor, at: datetime, reason: str | None) -> dict[str, Any]:
    return {
        "entry_id": row.id,
        "version": row.version,
        "op": op,
        "snapshot": row.document,
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
    mg_dl_per_mmol_l: float | None,
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
        document={},
        **values,
    )
    row.document = entries.answer(row, mg_dl_per_mmol_l)
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
    protocol, _ = await rules_service.protocol_for(session=session, study_id=participant.study_id)
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


def _same_entry_or_conflict(stored: DiaryEntry, entry: EntryModel, participant: Participant) -> None:
    if stored.participant_id != participant.id or stored.body_hash != canonical_hash(entry):
        raise id_taken(entry.id)


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
    return await rules_service.protocol_for(session=session, study_id=participant.study_id)


def factor_of(protocol: tuple[ProtocolSettings, int] | None) -> float | None:
    return protocol[0].glucose.mg_dl_per_mmol_l if protocol else None


async def apply_rules(
    *,
    session: AsyncSession,
    participant: Participant,
    row: Row,
    previous: dict[str, Any] | None,
    prefetched: rules_service.Lookups | None = None,
    protocol: tuple[ProtocolSettings, int] | None = None,
) -> bool:
    """Run the protocol rules on a flushed entry; store its flags and alerts. True when they changed."""
    outcome = await rules_service.evaluate_entry(
        session=session,
        participant=participant,
        entry=row,
        previous=previous,
        prefetched=prefetched,
        protocol=protocol,
    )
    await name_alerts_on_evidence(session=session, participant=participant, outcomes=[outcome])
    return set_outcome(row, outcome.flags, outcome.alert_ids)


async def name_alerts_on_evidence(
    *, session: AsyncSession, participant: Participant, outcomes: Sequence[rules_service.RuleOutcome]
) -> None:
    """Stored entries that a new alert linked as evidence of a pattern name it in their `alerts` too; each
    takes a new feed position (its answer changed) but no new version (what was entered did not change)."""
    wanted: dict[uuid.UUID, list[uuid.UUID]] = {}
    for outcome in outcomes:
        for entry_id, alert_id in outcome.evidence_of:
            wanted.setdefault(entry_id, []).append(alert_id)
    if not wanted:
        return
    rows = (
        await session.execute(
            select(DiaryEntry).where(
                col(DiaryEntry.participant_id) == participant.id, col(DiaryEntry.id).in_(list(wanted))
            )
        )
    ).scalars()
    changed = [row for row in rows if set_outcome(row, list(row.flags), wanted[row.id])]
    if not changed:
        return
    last = await bump_sequence(session=session, participant_id=participant.id, count=len(changed))
    for position, row in enumerate(changed, start=last - len(changed) + 1):
        row.change_seq = position
    await session.flush()


def set_outcome(row: Row, flags: list[str], alert_ids: list[uuid.UUID]) -> bool:
    """The rules' flags and alerts on the row and in its answer (nothing else of it changes)."""
    alerts = list(row.alert_ids)
    alerts.extend(str(a) for a in alert_ids if str(a) not in alerts)
    if list(flags) == list(row.flags) and alerts == list(row.alert_ids):
        return False
    row.flags = list(flags)
    row.alert_ids = alerts
    row.document = {**row.document, "flags": list(flags), "alerts": list(alerts)}
    return True


async def record_entry(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entry_in: Any,
    source: SourceApp | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store one entry idempotently: (the entry as answered, True if new). Same id and body again: the stored
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
        mg_dl_per_mmol_l=factor_of(protocol),
    )
    first = version_values(row, op="create", actor=actor, at=row.received_at, reason=None)
    glucose = entries.glucose_values(row, factor_of(protocol)) if row.kind == "glucose" else None
    prefetched: rules_service.Lookups | None = None
    if is_postgres(session):
        # the rules' reads ride along in the insert's statement: one round trip fewer per reading
        plan = rules_service.prefetch(participant, row, with_version=protocol is None)
        extra = (plan.columns, plan.params) if plan else None
        created = await pg_create.create(session, row_values(row), first, glucose, extra)
        if created is not None:
            row.change_seq = created[1]
            prefetched = plan.values(created[2:]) if plan else None
    else:
        created = await _create_plain(session, row, first, glucose)
    if created is None:
        stored = await session.get(DiaryEntry, entry.id)
        if stored is None:  # pragma: no cover - the conflicting row cannot vanish under our lock
            raise Conflict(f"The entry {entry.id} could not be stored; please retry.")
        _same_entry_or_conflict(stored, entry, participant)
        return dict(stored.document), False
    if await apply_rules(
        session=session,
        participant=participant,
        row=row,
        previous=None,
        prefetched=prefetched,
        protocol=protocol,
    ):
        await session.execute(
            update(ENTRY_TABLE)
            .where(ENTRY_TABLE.c.id == row.id)
            .values(flags=row.flags, alert_ids=row.alert_ids, document=row.document)
        )
        await session.execute(
            update(VERSION_TABLE)
            .where(VERSION_TABLE.c.entry_id == row.id, VERSION_TABLE.c.version == 1)
            .values(snapshot=row.document)
        )
    if row.kind == "meal":
        await rejudge_near_meal(
            session=session, actor=actor, participant=participant, meal_ids=[row.id], times=[row.occurred_at]
        )
    return row.document, True


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


REJUDGE = "rejudge"  # the version op of a reading judged again after a meal near it changed


async def rejudge_near_meal(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    meal_ids: Sequence[uuid.UUID],
    times: Sequence[datetime],
    exclude: frozenset[uuid.UUID] = frozenset(),
) -> int:
    """Judge again the fasting and postprandial readings a logged, moved or voided meal bears on.

    A phone syncing offline entries one at a time may send a reading before the meal it followed: the reading
    was judged without it ("fasting" though a meal came 2 h before, or postprandial with no meal known). Each
    reading from a meal's time to MEAL_LOOKBACK after it (and any reading linked to the meal) is judged
    again; one whose flags change gets a new version ("rejudge", attributed to whoever logged the meal, with
    the reason) and a new feed position, so phones and clinicians see it. `exclude`: readings just judged with
    the meals present (a batch's own). The number of readings that changed.
    """
    if not get_settings().rules.enabled or not (times or meal_ids):
        return 0
    near = [
        and_(col(GlucoseReading.occurred_at) >= start, col(GlucoseReading.occurred_at) <= end)
        for start, end in _merged_windows(times, rules_service.MEAL_LOOKBACK)
    ]
    affected = (
        select(GlucoseReading.entry_id)
        .where(
            col(GlucoseReading.participant_id) == participant.id,
            col(GlucoseReading.voided).is_(False),
            col(GlucoseReading.context).in_(("fasting", "postprandial")),
            or_(*near, col(GlucoseReading.meal_id).in_(list(meal_ids))),
        )
        .scalar_subquery()
    )
    readings = [
        row
        for row in (
            await session.execute(
                select(DiaryEntry)
                .where(col(DiaryEntry.id).in_(affected), col(DiaryEntry.voided).is_(False))
                .order_by(col(DiaryEntry.occurred_at), col(DiaryEntry.id))
            )
        ).scalars()
        if row.id not in exclude
    ]
    if not readings:
        return 0
    outcomes = await rules_service.rejudge_readings(
        session=session, participant=participant, readings=readings
    )
    await name_alerts_on_evidence(session=session, participant=participant, outcomes=outcomes)
    factor = factor_of(await protocol_of(session=session, participant=participant))
    changed = [
        row
        for row, outcome in zip(readings, outcomes, strict=True)
        if set_outcome(row, outcome.flags, outcome.alert_ids)
    ]
    if not changed:
        return 0
    last = await bump_sequence(session=session, participant_id=participant.id, count=len(changed))
    now = clock.now()
    reason = (
        f"re-judged by the protocol rules: the meal(s) {', '.join(str(m) for m in meal_ids)}"
        " logged, moved or voided around it"
    )
    for position, row in enumerate(changed, start=last - len(changed) + 1):
        row.version += 1
        row.change_seq = position
        row.updated_at = now
        row.document = entries.answer(row, factor)
        session.add(DiaryEntryVersion(**version_values(row, op=REJUDGE, actor=actor, at=now, reason=reason)))
    await session.flush()
    return len(changed)


def _merged_windows(times: Sequence[datetime], length: timedelta) -> list[tuple[datetime, datetime]]:
    """[t, t + length] for each time, overlapping ones merged: a week of meals synced at once is one window,
    not a thousand OR-ed conditions (SQLite refuses expressions deeper than 1,000)."""
    merged: list[tuple[datetime, datetime]] = []
    for start in sorted(times):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], start + length))
        else:
            merged.append((start, start + length))
    return merged


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
    row = await _entry(session=session, participant=participant, entry_id=entry_id)
    if row.voided:
        raise Conflict(f"The entry {entry_id} was voided (version {row.version}); it cannot change any more.")
    return row, seq


def _check_version(row: DiaryEntry, *, body_version: Any, if_match: str | None) -> None:
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
    if if_match is not None and entries.version_from_etag(if_match) != row.version:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current {entries.etag(row)}; nothing was changed."
        )


async def edit_entry(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entry_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None = None,
) -> tuple[dict[str, Any], str]:
    """A new version of the entry with `changes` and a reason; stale versions are refused, nothing changes."""
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
    previous = dict(row.document)
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
        at=now,
        op="edit",
        reason=reason,
        meal_times=[moved_from, row.occurred_at] if row.occurred_at != moved_from else [],
    )
    return dict(row.document), entries.etag(row)


async def _new_version(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    row: DiaryEntry,
    seq: int,
    previous: dict[str, Any],
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
    protocol = await protocol_of(session=session, participant=participant, kind=row.kind)
    factor = factor_of(protocol)
    row.document = entries.answer(row, factor)
    await session.flush()
    if row.kind == "glucose":
        await _sync_glucose(session, row, factor)
    await apply_rules(session=session, participant=participant, row=row, previous=previous, protocol=protocol)
    session.add(DiaryEntryVersion(**version_values(row, op=op, actor=actor, at=at, reason=reason)))
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
    if_match: str | None = None,
) -> dict[str, Any]:
    """Void (the diary's delete): a new version marked void with the reason; it stays in the history."""
    why = _reason(reason)
    row, seq = await _locked_entry(session=session, participant=participant, entry_id=entry_id)
    _check_version(row, body_version=None, if_match=if_match)
    previous = dict(row.document)
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
        at=now,
        op="void",
        reason=why,
        meal_times=[row.occurred_at],
    )
    return dict(row.document)


async def _entry(*, session: AsyncSession, participant: Participant, entry_id: uuid.UUID) -> DiaryEntry:
    result = await session.execute(
        select(DiaryEntry).where(
            col(DiaryEntry.id) == entry_id, col(DiaryEntry.participant_id) == participant.id
        )
    )
    row = result.scalar_one_or_none()
    if row is None:
        raise NotFound(f"The participant has no diary entry {entry_id}.")
    return row


async def get_entry(
    *, session: AsyncSession, participant: Participant, entry_id: uuid.UUID
) -> tuple[str, str]:
    """The current version of one entry (its stored JSON document) and its ETag."""
    result = await session.execute(
        select(cast(DiaryEntry.document, Text), DiaryEntry.version).where(
            col(DiaryEntry.id) == entry_id, col(DiaryEntry.participant_id) == participant.id
        )
    )
    found = result.first()
    if found is None:
        raise NotFound(f"The participant has no diary entry {entry_id}.")
    return found[0], f'W/"{entry_id}-v{found[1]}"'


async def history(
    *, session: AsyncSession, participant: Participant, entry_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every version of an entry, oldest first, with who changed it, when and why."""
    await _entry(session=session, participant=participant, entry_id=entry_id)
    result = await session.execute(
        select(DiaryEntryVersion)
        .where(col(DiaryEntryVersion.entry_id) == entry_id)
        .order_by(col(DiaryEntryVersion.version))
    )
    return [
        {
            "version": v.version,
            "op": v.op,
            "changed_by": {"user_id": str(v.changed_by_user_id), "role": v.changed_by_role},
            "changed_at": entries.utc_text(v.changed_at),
            "reason": v.reason,
            "entry": v.snapshot,
        }
        for v in result.scalars()
    ]


async def list_entries(
    *,
    session: AsyncSession,
    participant: Participant,
    kind: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    include_voided: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[str]:
    """Entries newest first (by occurred_at, then id), keyset-paginated; voided ones only on request.

    Each entry comes as its stored JSON document (the answer of its latest write).
    """
    query = select(cast(DiaryEntry.document, Text)).where(col(DiaryEntry.participant_id) == participant.id)
    if kind is not None:
        query = query.where(col(DiaryEntry.kind) == kind)
    if not include_voided:
        query = query.where(col(DiaryEntry.voided).is_(False))
    if occurred_from is not None:
        query = query.where(col(DiaryEntry.occurred_at) >= occurred_from)
    if occurred_to is not None:
        query = query.where(col(DiaryEntry.occurred_at) < occurred_to)
    page = await paginate(session, query, keys=NEWEST_FIRST, limit=limit, cursor=cursor)
    return Page([document for (document,) in page.items], page.next_cursor)


async def changes(
    *, session: AsyncSession, participant: Participant, since: str | None, limit: int = 500
) -> tuple[list[tuple[str, str]], str, bool]:
    """What changed after `since`, in commit order: each entry once, at its latest state (voids as tombstones).

    Returns ([(op, entry document)], the next cursor, whether more changes wait).
    """
    after = feed_position(since)
    result = await session.execute(
        select(DiaryEntry.change_seq, DiaryEntry.voided, cast(DiaryEntry.document, Text))
        .where(col(DiaryEntry.participant_id) == participant.id, col(DiaryEntry.change_seq) > after)
        .order_by(col(DiaryEntry.change_seq))
        .limit(limit + 1)
    )
    rows = result.all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if rows else after
    return [("void" if r[1] else "upsert", r[2]) for r in rows], encode_cursor([last]), has_more


def feed_position(since: str | None) -> int:
    """The feed position a `since` cursor names; empty or "0" is the start of the feed.

    Phones keep this cursor across app and server updates, so the first format ("s:<n>", base64url) is
    still read.
    """
    if since is None or since in ("", "0"):
        return 0
    try:
        legacy = base64.urlsafe_b64decode(since + "=" * (-len(since) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed(since, "since") from None
    if legacy.startswith("s:"):
        if not legacy[2:].isdigit():
            raise malformed(since, "since")
        return int(legacy[2:])
    (position,) = decode_cursor(since, [int], "since")
    return int(position)


async def insert_new_rows(session: AsyncSession, rows: list[NewEntry], factor: float | None) -> None:
    """Insert entries (and their glucose rows) in bulk: one statement per table."""
    await insert_many(session, ENTRY_TABLE, [row_values(r) for r in rows])
    glucose = [entries.glucose_values(r, factor) for r in rows if r.kind == "glucose"]
    if glucose:
        await insert_many(session, GLUCOSE_TABLE, glucose)


async def insert_many(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows of one table in one go: asyncpg's executemany on PostgreSQL, an executemany insert otherwise."""
    if is_postgres(session):
        await pg_create.insert_many(session, table, rows)
    elif rows:
        await session.execute(table.insert(), rows)
