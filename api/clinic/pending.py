"""The reports page: it exists and says reports are not available yet (the reports service lands in its own
issue; this page will call core.reports then)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.clinic import web
from api.deps import SessionDep

router = APIRouter()


@router.get("/reports", name="clinicReports", response_class=HTMLResponse)
async def reports(request: Request, session: SessionDep, actor: web.ReportActor) -> Response:
    return await web.page(
        request,
        "pending.html",
        {"active": "reports", "title": "Reports", "message": "Reports are not available yet."},
        session=session,
        actor=actor,
    )
