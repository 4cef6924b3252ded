"""The visit calendar and the reports pages: they exist and say what is not available yet (the visit and report
services land in their own issues; these pages will call core.visits and core.reports then)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.clinic import web
from api.deps import SessionDep

router = APIRouter()


@router.get("/visits", name="clinicVisits", response_class=HTMLResponse)
async def visits(request: Request, session: SessionDep, actor: web.VisitActor) -> Response:
    return await web.page(
        request,
        "pending.html",
        {"active": "visits", "title": "Visit calendar", "message": "Visits are not planned yet."},
        session=session,
        actor=actor,
    )


@router.get("/reports", name="clinicReports", response_class=HTMLResponse)
async def reports(request: Request, session: SessionDep, actor: web.ReportActor) -> Response:
    return await web.page(
        request,
        "pending.html",
        {"active": "reports", "title": "Reports", "message": "Reports are not available yet."},
        session=session,
        actor=actor,
    )
