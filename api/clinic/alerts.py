"""The alert inbox: open alerts of the user's participants, most severe and newest first, with filters;
acknowledge, resolve with a note and decide dose reviews (htmx swaps the alert in place, no page reload)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.clinic import web
from api.deps import AuditContextDep, SessionDep
from core.access import Actor
from core.dashboard import overview
from core.models.alerts import AlertKind, AlertStatus, DoseDecision, Severity
from core.rules import lifecycle
from core.rules.lifecycle import AlertView

router = APIRouter()

INBOX_LIMIT = 200
SEVERITY_RANK = {Severity.critical: 0, Severity.urgent: 1, Severity.warning: 2, Severity.info: 3}


def _ordered(views: list[AlertView]) -> list[AlertView]:
    # most severe first, newest first within a severity (created_at ties broken by id, as the service pages)
    by_newest = sorted(views, key=lambda v: (v.alert.created_at, str(v.alert.id)), reverse=True)
    return sorted(by_newest, key=lambda v: SEVERITY_RANK.get(Severity(v.alert.severity), 9))


async def _causes(session: SessionDep, views: list[AlertView]) -> dict[uuid.UUID, object]:
    ids = [link.entry_id for v in views for link in v.entries]
    return dict(await overview.entries_by_id(session=session, entry_ids=ids))


@router.get("/inbox", name="clinicInbox", response_class=HTMLResponse)
async def inbox(
    request: Request,
    session: SessionDep,
    actor: web.InboxActor,
    kind: Annotated[AlertKind | Literal[""] | None, Query()] = None,
    severity: Annotated[Severity | Literal[""] | None, Query()] = None,
    site: Annotated[uuid.UUID | Literal[""] | None, Query()] = None,
    status: Annotated[Literal["unresolved", "resolved"], Query()] = "unresolved",
) -> Response:
    """Unresolved (or recently resolved) alerts of the participants in the user's scope."""
    page = await lifecycle.list_alerts(
        session=session,
        actor=actor,
        kind=kind or None,
        severity=severity or None,
        site_id=site or None,
        unresolved=status == "unresolved",
        status=AlertStatus.resolved if status == "resolved" else None,
        limit=INBOX_LIMIT,
    )
    views = page.items if status == "resolved" else _ordered(page.items)
    return await web.page(
        request,
        "inbox.html",
        {
            "active": "inbox",
            "alerts": views,
            "causes": await _causes(session, views),
            "more": page.next_cursor is not None,
            "limit": INBOX_LIMIT,
            "filters": {
                "kind": kind or "",
                "severity": severity or "",
                "site": str(site or ""),
                "status": status,
            },
            "kinds": await overview.open_alert_kinds(session=session, actor=actor),
            "severities": list(Severity),
            "sites": await overview.sites_in_scope(session=session, actor=actor),
            "decisions": web.DECISIONS,
        },
        session=session,
        actor=actor,
    )


async def _after_change(request: Request, session: SessionDep, actor: Actor, view: AlertView) -> Response:
    """htmx: the changed alert (and the top bar's count, out of band); without JavaScript: back to the inbox."""
    if not web.is_htmx(request):
        return web.back_to(f"{web.PREFIX}/inbox")
    await session.flush()  # the top bar's count is read back in this transaction
    return await web.page(
        request,
        "_alert_changed.html",
        {"alert": view, "causes": await _causes(session, [view]), "decisions": web.DECISIONS},
        session=session,
        actor=actor,
    )


@router.post("/alerts/{alert_id}/acknowledge", name="clinicAcknowledgeAlert", response_class=HTMLResponse)
async def acknowledge(
    alert_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: web.ClinicianActor,
    _csrf: web.CsrfChecked,
    context: AuditContextDep,
) -> Response:
    view = await lifecycle.acknowledge(session=session, actor=actor, alert_id=alert_id, context=context)
    return await _after_change(request, session, actor, view)


@router.post("/alerts/{alert_id}/resolve", name="clinicResolveAlert", response_class=HTMLResponse)
async def resolve(
    alert_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: web.ClinicianActor,
    _csrf: web.CsrfChecked,
    context: AuditContextDep,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    view = await lifecycle.resolve(
        session=session, actor=actor, alert_id=alert_id, note=note, context=context
    )
    return await _after_change(request, session, actor, view)


@router.post("/alerts/{alert_id}/decision", name="clinicDecideDoseReview", response_class=HTMLResponse)
async def decide(
    alert_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: web.ClinicianActor,
    _csrf: web.CsrfChecked,
    context: AuditContextDep,
    decision: Annotated[DoseDecision, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    view = await lifecycle.decide(
        session=session, actor=actor, alert_id=alert_id, decision=decision, note=note, context=context
    )
    return await _after_change(request, session, actor, view)
