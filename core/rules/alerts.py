"""Alerts: raise one, or fold a repeat into the open one; record changed causes; queue the alert's messages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from core import clock, outbox
from core.models.alerts import Alert, AlertCategory, AlertEntry, AlertKind, AlertStatus, CauseStatus, Severity
from core.models.diary import DiaryEntry
from core.models.outbox import MessageCategory
from core.models.study import Participant


@dataclass(frozen=True)
class Condition:
    """One alertable condition of one participant, as a rule found it."""

    kind: AlertKind
    category: AlertCategory
    severity: Severity
    rule: str
    fold_key: str
    entry_ids: tuple[uuid.UUID, ...]
    details: dict[str, Any]


async def _link(session: AsyncSession, alert: Alert, entry_id: uuid.UUID, version: int) -> bool:
    """Link the entry to the alert; False when it was linked already (then it is current again)."""
    existing = await session.get(AlertEntry, (alert.id, entry_id))
    if existing is not None:
        existing.entry_version = version
        existing.cause_status = CauseStatus.current
        return False
    session.add(AlertEntry(alert_id=alert.id, entry_id=entry_id, entry_version=version))
    return True


async def raise_or_join(
    *,
    session: AsyncSession,
    participant: Participant,
    condition: Condition,
    protocol_version: int,
    fold_hours: int,
    occurred_at: datetime,
    trigger: tuple[uuid.UUID, int],
    versions: Mapping[uuid.UUID, int] | None = None,
    linked: dict[uuid.UUID, set[uuid.UUID]] | None = None,
) -> tuple[Alert, list[uuid.UUID]]:
    """The open alert of this condition gains an occurrence if it is recent enough; otherwise a new alert
    is raised and a message queued for each clinician of the participant's site, in this transaction.

    A safety alert folds repeats within `fold_hours` while it is open. A dose-review suggestion stays one
    suggestion until a clinician decides on it: further evidence joins it (open or acknowledged) whenever
    it comes, instead of raising the same suggestion every few days.

    Every entry is linked at a version it really has: the trigger at the version being written, evidence at
    `versions` (entries being judged now) or else at its current version. Answers the alert and the evidence
    entries linked now (besides the trigger), whose `alerts` must name it too. `linked`: alert -> evidence
    already linked by this caller (a batch joins one suggestion many times; it is linked once).
    """
    now = clock.now()
    alert: Alert | None = None
    same = select(Alert).where(
        col(Alert.participant_id) == participant.id, col(Alert.fold_key) == condition.fold_key
    )
    query: SelectOfScalar[Alert] | None = None
    if condition.category is AlertCategory.dose_review:
        query = same.where(
            col(Alert.status).in_([AlertStatus.open.value, AlertStatus.acknowledged.value]),
            col(Alert.decision).is_(None),
        )
    elif fold_hours > 0:
        query = same.where(
            col(Alert.status) == AlertStatus.open.value,
            col(Alert.last_occurred_at) >= occurred_at - timedelta(hours=fold_hours),
        )
    if query is not None:
        alert = (
            await session.execute(query.order_by(col(Alert.created_at).desc()).limit(1))
        ).scalar_one_or_none()
    trigger_id, trigger_version = trigger
    if alert is not None:
        if await _link(session, alert, trigger_id, trigger_version):
            alert.occurrences += 1
        evidence = await _link_evidence(session, alert, condition, trigger_id, versions or {}, linked)
        if condition.category is AlertCategory.dose_review and occurred_at >= alert.last_occurred_at:
            # the newest evidence describes the suggestion (a late entry for an older day does not replace it)
            details = {**condition.details, "cause_changes": alert.details.get("cause_changes", [])}
            if details != alert.details:
                alert.details = details
        alert.last_occurred_at = max(alert.last_occurred_at, occurred_at)
        alert.updated_at = now
        await session.flush()
        return alert, evidence
    alert = Alert(
        participant_id=participant.id,
        study_id=participant.study_id,
        site_id=participant.site_id,
        kind=condition.kind,
        category=condition.category,
        severity=condition.severity,
        rule=condition.rule,
        protocol_version=protocol_version,
        fold_key=condition.fold_key,
        details=condition.details,
        first_occurred_at=occurred_at,
        last_occurred_at=occurred_at,
        created_at=now,
        updated_at=now,
    )
    session.add(alert)
    await session.flush()
    session.add(AlertEntry(alert_id=alert.id, entry_id=trigger_id, entry_version=trigger_version))
    evidence = await _link_evidence(session, alert, condition, trigger_id, versions or {}, linked)
    await session.flush()
    await _notify(session=session, participant=participant, alert=alert)
    return alert, evidence


async def _link_evidence(
    session: AsyncSession,
    alert: Alert,
    condition: Condition,
    trigger_id: uuid.UUID,
    versions: Mapping[uuid.UUID, int],
    known: dict[uuid.UUID, set[uuid.UUID]] | None,
) -> list[uuid.UUID]:
    """Link the pattern's other entries (earlier days) not linked yet, each at the version it has now; the
    ids linked. `known`: alert -> entries linked already (kept up to date here)."""
    done = known.setdefault(alert.id, set()) if known is not None else set()
    wanted = [e for e in dict.fromkeys(condition.entry_ids) if e != trigger_id and e not in done]
    if not wanted:
        return []
    done.update(wanted)
    linked = set(
        (
            await session.execute(
                select(AlertEntry.entry_id).where(
                    col(AlertEntry.alert_id) == alert.id, col(AlertEntry.entry_id).in_(wanted)
                )
            )
        ).scalars()
    )
    new = [e for e in wanted if e not in linked]
    stored = [e for e in new if e not in versions]
    current = dict(
        (
            await session.execute(
                select(DiaryEntry.id, DiaryEntry.version).where(col(DiaryEntry.id).in_(stored))
            )
        ).all()
        if stored
        else []
    )
    for entry_id in new:
        version = versions.get(entry_id) or current.get(entry_id)
        if version is None:  # pragma: no cover - evidence comes from the participant's stored entries
            continue
        session.add(AlertEntry(alert_id=alert.id, entry_id=entry_id, entry_version=version))
    return [e for e in new if e in versions or e in current]


async def _notify(*, session: AsyncSession, participant: Participant, alert: Alert) -> None:
    """Queue the new alert's messages (core.recipients routes them): staff get what to look at; a
    participant whose own reading raised a safety alert gets a protocol-worded note (never dose advice)."""
    category = (
        MessageCategory.dose_review if alert.category == AlertCategory.dose_review else MessageCategory.alert
    )
    payload = {
        "alert_id": str(alert.id),
        "kind": alert.kind,
        "category": alert.category,
        "severity": alert.severity,
        "rule": alert.rule,
        "subject_code": participant.subject_code,
        "protocol_version": alert.protocol_version,
    }
    severity = str(alert.severity)
    await outbox.enqueue_about(
        session,
        participant=participant,
        category=category,
        kind="alert.raised",
        payload=payload,
        key=f"alert.raised:{alert.id}",
        severity=severity,
    )
    if category is MessageCategory.alert and alert.severity != Severity.info:
        await outbox.enqueue_about(
            session,
            participant=participant,
            severity=severity,
            category=MessageCategory.own_alert,
            kind="alert.own_reading",
            payload={"alert_id": str(alert.id), "kind": alert.kind, "severity": alert.severity},
            key=f"alert.own_reading:{alert.id}",
        )


async def record_cause_change(
    *,
    session: AsyncSession,
    entry_id: uuid.UUID,
    version: int,
    voided: bool,
    change: CauseStatus | None = None,
    category: AlertCategory | None = None,
) -> list[uuid.UUID]:
    """A voided, corrected (or re-judged) entry that caused unresolved alerts (of `category`, if given): each
    alert says so and stays for a clinician."""
    query = (
        select(Alert, AlertEntry)
        .join(AlertEntry, col(AlertEntry.alert_id) == col(Alert.id))
        .where(col(AlertEntry.entry_id) == entry_id, col(Alert.status) != AlertStatus.resolved.value)
    )
    if category is not None:
        query = query.where(col(Alert.category) == category.value)
    rows = (await session.execute(query)).all()
    now = clock.now()
    change = change or (CauseStatus.voided if voided else CauseStatus.corrected)
    for alert, link in rows:
        link.cause_status = change
        alert.cause_changed = True
        changes = [
            *alert.details.get("cause_changes", []),
            {"entry_id": str(entry_id), "change": change.value, "version": version, "at": now.isoformat()},
        ]
        alert.details = {**alert.details, "cause_changes": changes}
        alert.updated_at = now
    if rows:
        await session.flush()
    return [alert.id for alert, _ in rows]
