"""Batch upload: up to settings.diary.batch_max_entries entries, each with its own result; one bad item
never loses the others.

Items are validated one by one in Python, duplicates found with one query, and the new ones inserted in bulk
(one statement per table). Should the bulk insert still hit a constraint, it is rolled back to its savepoint
and the items are retried one by one, each in its own savepoint.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, clock
from core.access import Actor
from core.config import get_settings
from core.diary import entries, links, rejudge
from core.diary import rows as diary_rows
from core.diary.entries import NewEntry, SourceApp
from core.diary.kinds import EntryModel
from core.diary.parsing import canonical_hash
from core.errors import DomainError, FieldProblem, InvalidInput
from core.models.diary import DiaryEntry
from core.models.study import Participant
from core.protocol import ProtocolSettings
from core.rules import service as rules_service


def _error(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
    if exc.fields:
        body["fields"] = [{"path": f.path, "message": f.message} for f in exc.fields]
    return body


def _conflict(entry_id: uuid.UUID, index: int) -> dict[str, Any]:
    """The single create's answer for a taken id (the same whatever diary holds it), its path in the batch."""
    error = _error(diary_rows.id_taken(entry_id))
    error["fields"] = [{**f, "path": f"entries.{index}.{f['path']}"} for f in error["fields"]]
    return error


def _raw_id(raw: Any) -> str | None:
    return str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") is not None else None


async def record_batch(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    entries_in: list[Any],
    source: SourceApp | None = None,
) -> list[dict[str, Any]]:
    """One result per item, in order: {index, id, status: created|duplicate|rejected, entry?, error?}; `entry` is
    the entry's current state (core.diary.entries.state), which api/ renders."""
    limit = get_settings().diary.batch_max_entries
    if len(entries_in) > limit:
        message = f"at most {limit} entries per batch (got {len(entries_in)})"
        raise InvalidInput(f"The batch is too large: {message}.", fields=[FieldProblem("entries", message)])
    results: list[dict[str, Any]] = [{"index": i, "id": _raw_id(raw)} for i, raw in enumerate(entries_in)]
    candidates: dict[uuid.UUID, tuple[int, EntryModel, str]] = {}
    repeats: list[tuple[int, EntryModel, str]] = []
    run_in = await diary_rows.run_in_for(session=session, actor=actor, participant=participant)
    for i, raw in enumerate(entries_in):
        try:
            entry = diary_rows.validate_entry(
                raw, participant=participant, prefix=f"entries.{i}", run_in=run_in
            )
        except InvalidInput as exc:
            results[i].update(status="rejected", error=_error(exc))
            continue
        digest = canonical_hash(entry)
        if entry.id in candidates:
            repeats.append((i, entry, digest))
        else:
            candidates[entry.id] = (i, entry, digest)
    await _check_links(session, participant, candidates, results)
    if not candidates:
        return results

    relationship = await access.relationship_to(session=session, actor=actor, participant=participant)
    last_seq = await diary_rows.bump_sequence(
        session=session, participant_id=participant.id, count=len(candidates)
    )
    existing = await _existing(session, list(candidates))
    protocol = await diary_rows.protocol_of(session=session, participant=participant)
    factor = diary_rows.factor_of(protocol)
    received_at = clock.now()
    seq = last_seq - len(candidates)
    new_rows: list[tuple[int, NewEntry]] = []
    for entry_id, (i, entry, digest) in candidates.items():
        stored = existing.get(entry_id)
        if stored is not None:
            if stored.participant_id == participant.id and stored.body_hash == digest:
                results[i].update(status="duplicate", entry=entries.state(stored, factor))
            else:
                results[i].update(status="rejected", error=_conflict(entry_id, i))
            continue
        seq += 1
        row = diary_rows.new_row(
            entry,
            participant=participant,
            actor=actor,
            relationship=relationship,
            source=source or SourceApp(),
            received_at=received_at,
            change_seq=seq,
            body_hash=digest,
        )
        new_rows.append((i, row))

    stored_rows = await _insert(session, new_rows, results, factor)
    await _rules_and_versions(session, participant, actor, stored_rows, protocol, factor)
    meals = [row for _, row in stored_rows if row.kind == "meal"]
    if meals:  # readings stored before this batch may have waited for these meals
        await rejudge.rejudge_near_meal(
            session=session,
            actor=actor,
            participant=participant,
            meal_ids=[row.id for row in meals],
            times=[row.occurred_at for row in meals],
            exclude=frozenset(row.id for _, row in stored_rows),
        )
    for i, row in stored_rows:
        results[i].update(status="created", entry=entries.state(row, factor))
    for i, entry, digest in repeats:
        first = results[candidates[entry.id][0]]
        if candidates[entry.id][2] == digest and "entry" in first:
            results[i].update(status="duplicate", entry=first["entry"])
        else:
            results[i].update(status="rejected", error=_conflict(entry.id, i))
    return results


async def _existing(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, DiaryEntry]:
    found: dict[uuid.UUID, DiaryEntry] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result = await session.execute(select(DiaryEntry).where(col(DiaryEntry.id).in_(chunk)))
        found.update({row.id: row for row in result.scalars()})
    return found


async def _insert(
    session: AsyncSession,
    new_rows: list[tuple[int, NewEntry]],
    results: list[dict[str, Any]],
    factor: float | None,
) -> list[tuple[int, NewEntry]]:
    if not new_rows:
        return []
    try:
        async with session.begin_nested():
            await diary_rows.insert_new_rows(session, [row for _, row in new_rows], factor)
        return new_rows
    except IntegrityError:
        pass
    stored = []
    for i, row in new_rows:  # one by one, so only the offending items are lost
        try:
            async with session.begin_nested():
                await diary_rows.insert_new_rows(session, [row], factor)
            stored.append((i, row))
        except IntegrityError:
            results[i].update(status="rejected", error=_conflict(row.id, i))
    return stored


async def _check_links(
    session: AsyncSession,
    participant: Participant,
    candidates: dict[uuid.UUID, tuple[int, EntryModel, str]],
    results: list[dict[str, Any]],
) -> None:
    """Reject the items whose meal_id / glucose_entry_id names no entry of the right kind of this participant
    (stored, or valid in this batch); one query for all the links that leave the batch."""
    batch_kinds = {entry_id: entry.kind for entry_id, (_, entry, _) in candidates.items()}  # type: ignore[attr-defined]
    linked = {
        entry_id: link
        for entry_id, (_, entry, _) in candidates.items()
        if (link := links.link_of(entry.kind, dict(entry))) is not None  # type: ignore[attr-defined]
    }
    if not linked:
        return
    outside = [target for _, target, _ in linked.values() if target not in batch_kinds]
    known = {
        **await links.kinds_of(session=session, participant_id=participant.id, ids=outside),
        **batch_kinds,
    }
    for entry_id, (field, target, _) in linked.items():
        i, entry, _ = candidates[entry_id]
        try:
            links.check(entry.kind, {field: target}, known, prefix=f"entries.{i}")  # type: ignore[attr-defined]
        except InvalidInput as exc:
            results[i].update(status="rejected", error=_error(exc))
            del candidates[entry_id]


async def _rules_and_versions(
    session: AsyncSession,
    participant: Participant,
    actor: Actor,
    stored: list[tuple[int, NewEntry]],
    protocol: tuple[ProtocolSettings, int] | None,
    factor: float | None,
) -> None:
    if not stored:
        return
    rows = [row for _, row in stored]
    outcomes = await rules_service.evaluate_entries(
        session=session, participant=participant, entries=rows, protocol=protocol
    )
    await rejudge.name_alerts_on_evidence(session=session, participant=participant, outcomes=outcomes)
    changed = [
        {"b_id": row.id, "b_flags": row.flags, "b_alerts": row.alert_ids}
        for row, outcome in zip(rows, outcomes, strict=True)
        if diary_rows.set_outcome(row, outcome.flags, outcome.alert_ids)
    ]
    if changed:
        table = diary_rows.ENTRY_TABLE
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(flags=bindparam("b_flags"), alert_ids=bindparam("b_alerts")),
            changed,
        )
    await diary_rows.insert_many(
        session,
        diary_rows.VERSION_TABLE,
        [
            diary_rows.version_values(
                row, op="create", actor=actor, at=row.received_at, reason=None, mg_dl_per_mmol_l=factor
            )
            for row in rows
        ],
    )
