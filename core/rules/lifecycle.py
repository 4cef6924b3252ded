"""The clinician's side of alerts: the scoped inbox, acknowledge, resolve, and dose-review decisions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, case, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import audit, clock
from core.access import Actor, participant_scope
from core.audit import AuditContext
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from core.models.alerts import (
    Alert,
    AlertCategory,
    AlertEntry,
    AlertKind,
    AlertStatus,
    DoseDecision,
    Severity,
)
from core.models.study import Participant
from core.pagination import Page, SortKey, paginate


@dataclass(frozen=True)
class AlertView:
    """An alert as staff see it: with the participant's subject code and the entries that caused it."""

    alert: Alert
    subject_code: str
    entries: list[AlertEntry]


def _rank(column: Any, values: list[str]) -> Any:
    """0 for the first of `values`, 1 for the next ... as SQL, so the order can be a keyset key."""
    return case({value: i for i, value in enumerate(values)}, value=column, else_=len(values))


STATUS_RANK = _rank(col(Alert.status), [AlertStatus.open, AlertStatus.acknowledged, AlertStatus.resolved])
SEVERITY_RANK = _rank(
    col(Alert.severity), [Severity.critical, Severity.urgent, Severity.warning, Severity.info]
)

# the inbox order: what still needs someone first (open, then acknowledged, then resolved), the most severe
# first within that, then the newest; the id makes the order total for the keyset cursor
INBOX_ORDER = (
    SortKey(STATUS_RANK, int),
    SortKey(SEVERITY_RANK, int),
    SortKey(col(Alert.created_at), datetime, descending=True),
    SortKey(col(Alert.id), uuid.UUID, descending=True),
)


def open_alert_count() -> ScalarSelect[int]:
    """A correlated count of a participant's unresolved alerts, as a column for any select over `participant`
    (the participants list answers it beside each participant)."""
    return (
        select(func.count(col(Alert.id)))
        .where(
            col(Alert.participant_id) == col(Participant.id), col(Alert.status) != AlertStatus.resolved.value
        )
        .correlate(Participant)
        .scalar_subquery()
    )


async def _entries(session: AsyncSession, alert_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[AlertEntry]]:
    by_alert: dict[uuid.UUID, list[AlertEntry]] = defaultdict(list)
    if alert_ids:
        rows = await session.execute(
            select(AlertEntry)
            .where(col(AlertEntry.alert_id).in_(alert_ids))
            .order_by(col(AlertEntry.linked_at), col(AlertEntry.entry_id))
        )
        for link in rows.scalars():
            by_alert[link.alert_id].append(link)
    return by_alert


async def list_alerts(
    *,
    session: AsyncSession,
    actor: Actor,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    category: AlertCategory | None = None,
    severity: Severity | None = None,
    participant_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
    unresolved: bool = False,
) -> Page[AlertView]:
    """Alerts of the participants `actor` may see (the one scoping rule, as SQL), in the inbox order: open,
    acknowledged, resolved; within each critical, urgent, warning, info; then newest first.

    `unresolved`: open and acknowledged alerts only (the clinic dashboard's inbox).
    """
    query = (
        select(Alert, Participant.subject_code)
        .join(Participant, col(Participant.id) == col(Alert.participant_id))
        .where(participant_scope(actor))
    )
    if status is not None:
        query = query.where(col(Alert.status) == status.value)
    if unresolved:
        query = query.where(col(Alert.status) != AlertStatus.resolved.value)
    if kind:
        query = query.where(col(Alert.kind) == kind)
    if category is not None:
        query = query.where(col(Alert.category) == category.value)
    if severity is not None:
        query = query.where(col(Alert.severity) == severity.value)
    if participant_id is not None:
        query = query.where(col(Alert.participant_id) == participant_id)
    if site_id is not None:
        query = query.where(col(Alert.site_id) == site_id)
    page = await paginate(session, query, keys=INBOX_ORDER, limit=limit, cursor=cursor)
    links = await _entries(session, [alert.id for alert, _ in page.items])
    items = [AlertView(alert, code, links.get(alert.id, [])) for alert, code in page.items]
    return Page(items, page.next_cursor)


async def _alert_in_scope(session: AsyncSession, actor: Actor, alert_id: uuid.UUID) -> AlertView:
    row = (
        await session.execute(
            select(Alert, Participant.subject_code)
            .join(Participant, col(Participant.id) == col(Alert.participant_id))
            .where(col(Alert.id) == alert_id, participant_scope(actor))
            .with_for_update(of=Alert)
        )
    ).first()
    if row is None:
        raise NotFound("No such alert.")
    alert, code = row
    return AlertView(alert, code, (await _entries(session, [alert.id])).get(alert.id, []))


def _state(alert: Alert) -> dict[str, Any]:
    return {
        "status": alert.status,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_by": alert.resolved_by,
        "resolution_note": alert.resolution_note,
        "decision": alert.decision,
        "decision_note": alert.decision_note,
    }


async def acknowledge(
    *, session: AsyncSession, actor: Actor, alert_id: uuid.UUID, context: AuditContext | None = None
) -> AlertView:
    """open -> acknowledged (who, when); acknowledging again changes nothing; a resolved alert is 409."""
    view = await _alert_in_scope(session, actor, alert_id)
    alert = view.alert
    if alert.status == AlertStatus.resolved:
        raise Conflict("The alert is resolved already; it cannot be acknowledged.")
    if alert.status == AlertStatus.open:
        before = _state(alert)
        now = clock.now()
        alert.status, alert.acknowledged_by, alert.acknowledged_at, alert.updated_at = (
            AlertStatus.acknowledged,
            actor.user_id,
            now,
            now,
        )
        await _audit_change(session, actor, alert, "alert.acknowledged", before, context)
    return view


async def _audit_change(
    session: AsyncSession,
    actor: Actor,
    alert: Alert,
    action: str,
    before: dict[str, Any],
    context: AuditContext | None,
) -> None:
    """One audit row for a lifecycle step: the alert's state before and after, by whom."""
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action=action,
        subject_type="alert",
        subject_id=alert.id,
        before=before,
        after=_state(alert),
        context=context,
    )


def _note(note: str, path: str) -> str:
    note = note.strip()
    if not note:
        raise InvalidInput("A note is required.", fields=[FieldProblem(path, "must not be empty")])
    return note


async def resolve(
    *,
    session: AsyncSession,
    actor: Actor,
    alert_id: uuid.UUID,
    note: str,
    context: AuditContext | None = None,
) -> AlertView:
    """open or acknowledged -> resolved, with who, when and a note; a resolved alert is 409."""
    note = _note(note, "note")
    view = await _alert_in_scope(session, actor, alert_id)
    alert = view.alert
    if alert.status == AlertStatus.resolved:
        raise Conflict("The alert is resolved already.")
    before = _state(alert)
    _close(alert, actor, note)
    await _audit_change(session, actor, alert, "alert.resolved", before, context)
    return view


def _close(alert: Alert, actor: Actor, note: str) -> None:
    now = clock.now()
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = actor.user_id, now
    alert.status, alert.resolved_by, alert.resolved_at, alert.resolution_note = (
        AlertStatus.resolved,
        actor.user_id,
        now,
        note,
    )
    alert.updated_at = now


async def decide(
    *,
    session: AsyncSession,
    actor: Actor,
    alert_id: uuid.UUID,
    decision: DoseDecision,
    note: str,
    context: AuditContext | None = None,
) -> AlertView:
    """The clinician's decision on a dose-review suggestion (audited); it resolves the suggestion.

    Nothing is applied to any dose: the decision records what the clinician chose to do.
    """
    note = _note(note, "note")
    view = await _alert_in_scope(session, actor, alert_id)
    alert = view.alert
    if alert.category != AlertCategory.dose_review:
        raise Conflict(f"Only dose-review suggestions take a decision; this alert is a {alert.kind} alert.")
    if alert.decision is not None:
        raise Conflict(f"A decision ({alert.decision}) is recorded already.")
    before = _state(alert)
    now = clock.now()
    alert.decision, alert.decision_note, alert.decided_by, alert.decided_at = (
        decision,
        note,
        actor.user_id,
        now,
    )
    if alert.status != AlertStatus.resolved:
        _close(alert, actor, f"decision: {decision.value}: {note}")
    await _audit_change(session, actor, alert, "alert.dose_review_decided", before, context)
    return view
