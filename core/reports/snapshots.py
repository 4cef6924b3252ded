"""Data cuts: a report set frozen at a cut date, tied to the protocol version and the diary's change position.

The content is serialised once (canonical JSON, sorted keys) and stored as those bytes with their SHA-256; a
download answers the stored bytes, so a snapshot never changes, whatever the diary does afterwards.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import audit, clock
from core.access import Actor
from core.audit import AuditContext
from core.errors import Forbidden, NotFound
from core.models.diary import DiarySequence
from core.models.people import Role
from core.models.reports import ReportSnapshot
from core.models.study import Participant
from core.pagination import Page, SortKey, paginate
from core.reports import columns
from core.reports.service import Filters, Report, build, resolve_scope

SNAPSHOT_ROLES = frozenset({Role.statistician, Role.admin})


def _report_document(report: Report) -> dict[str, Any]:
    return {
        "columns": [c.name for c in report.columns],
        "rows": report.rows,
        "aggregates": report.aggregates,
    }


def _default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value))


async def create(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, cut: date | None, context: AuditContext
) -> ReportSnapshot:
    """Freeze every report at `cut` (exclusive; default the end of today) for the whole study."""
    if actor.role not in SNAPSHOT_ROLES:
        raise Forbidden("Data cuts are taken by statisticians.")
    study, scope, _ = await resolve_scope(
        session=session, actor=actor, study_id=study_id, filters=Filters(to=cut)
    )
    reports = {
        name: await build(
            session=session, actor=actor, study_id=study.id, report=name, filters=Filters(to=scope.cut)
        )
        for name in columns.REPORTS
    }
    first = next(iter(reports.values()))
    position = await session.scalar(
        select(func.coalesce(func.sum(DiarySequence.last_change_seq), 0))
        .join(Participant, col(Participant.id) == col(DiarySequence.participant_id))
        .where(col(Participant.study_id) == study.id)
    )
    snapshot_id = uuid.uuid4()
    document = {
        "snapshot_id": str(snapshot_id),
        "study_id": str(study.id),
        "cut": scope.cut.isoformat(),
        "protocol_version": first.protocol_version,
        "diary_change_position": int(position or 0),
        "created_at": clock.now().isoformat(),
        "reports": {name: _report_document(r) for name, r in reports.items()},
    }
    content = orjson.dumps(document, option=orjson.OPT_SORT_KEYS, default=_default)
    snapshot = ReportSnapshot(
        id=snapshot_id,
        study_id=study.id,
        cut=scope.cut,
        protocol_version=first.protocol_version,
        diary_change_position=int(position or 0),
        content=content.decode(),
        content_sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        created_by=actor.user_id,
        created_at=clock.now(),
    )
    session.add(snapshot)
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="reports.snapshot_created",
        subject_type="report_snapshot",
        subject_id=snapshot.id,
        after={"study_id": str(study.id), "cut": scope.cut.isoformat(), "sha256": snapshot.content_sha256},
        context=context,
    )
    return snapshot


async def _checked(session: AsyncSession, actor: Actor, study_id: uuid.UUID) -> None:
    if actor.role not in SNAPSHOT_ROLES:
        raise Forbidden("Data cuts are read by statisticians.")
    await resolve_scope(session=session, actor=actor, study_id=study_id, filters=Filters())


async def get(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, snapshot_id: uuid.UUID
) -> ReportSnapshot:
    await _checked(session, actor, study_id)
    snapshot = await session.get(ReportSnapshot, snapshot_id)
    if snapshot is None or snapshot.study_id != study_id:
        raise NotFound("No such snapshot.")
    return snapshot


async def page(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[ReportSnapshot]:
    """The study's snapshots, newest first (without their content)."""
    await _checked(session, actor, study_id)
    query = select(ReportSnapshot).where(col(ReportSnapshot.study_id) == study_id)
    keys = [
        SortKey(col(ReportSnapshot.created_at), type(clock.now()), descending=True),
        SortKey(col(ReportSnapshot.id), uuid.UUID, descending=True),
    ]
    found = await paginate(session, query, keys=keys, limit=limit, cursor=cursor)
    return Page([row[0] for row in found.items], found.next_cursor)
