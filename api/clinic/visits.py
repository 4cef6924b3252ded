"""The visit calendar: due, overdue, missed and recent visits of the user's participants, by week and site;
complete (with the date and any results) or mark missed from the page. Calls core.visits like the JSON API."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.clinic import web
from api.deps import AuditContextDep, SessionDep
from core import clock
from core.dashboard import overview
from core.models.visits import Visit, VisitStatus
from core.visits import calendar, recording

router = APIRouter()

PAST_DAYS, AHEAD_DAYS = 35, 56  # the calendar's span around today
PER_STUDY = 200
RESULTS = (  # the results the page offers (core.visits.results checks them and names what is allowed)
    ("hba1c_percent", "HbA1c (%)"),
    ("c_peptide_stimulated_ng_ml", "Stimulated C-peptide (ng/mL)"),
    ("weight_kg", "Weight (kg)"),
)


def state_of(visit: Visit, today: date) -> str:
    """What the coordinator needs to know: due (in its window), overdue (window passed), upcoming, or done."""
    if visit.status != VisitStatus.planned:
        return str(visit.status)
    if visit.window_end < today:
        return "overdue"
    return "due" if visit.window_start <= today else "upcoming"


@router.get("/visits", name="clinicVisits", response_class=HTMLResponse)
async def visits(request: Request, session: SessionDep, actor: web.VisitActor) -> Response:
    today = clock.now().date()
    weeks: dict[date, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, int] = defaultdict(int)
    more = False
    for study_id, _code in await overview.studies_in_scope(session=session, actor=actor):
        page = await calendar.study_visits(
            session=session,
            actor=actor,
            study_id=study_id,
            status=None,
            site_code=None,
            date_from=today - timedelta(days=PAST_DAYS),
            date_to=today + timedelta(days=AHEAD_DAYS),
            limit=PER_STUDY,
            cursor=None,
        )
        more = more or page.next_cursor is not None
        for visit, subject_code, site_code in page.items:
            state = state_of(visit, today)
            counts[state] += 1
            monday = visit.target_date - timedelta(days=visit.target_date.weekday())
            weeks[monday][site_code].append({"visit": visit, "subject": subject_code, "state": state})
    return await web.page(
        request,
        "visits.html",
        {
            "active": "visits",
            "weeks": sorted((w, sorted(sites.items())) for w, sites in weeks.items()),
            "counts": counts,
            "today": today,
            "more": more,
            "results": RESULTS,
            "span": (today - timedelta(days=PAST_DAYS), today + timedelta(days=AHEAD_DAYS)),
        },
        session=session,
        actor=actor,
    )


async def _after(request: Request, session: SessionDep, actor: Any, visit: Visit, subject: str) -> Response:
    if not web.is_htmx(request):
        return web.back_to(f"{web.PREFIX}/visits")
    today = clock.now().date()
    return await web.page(
        request,
        "_visit.html",
        {
            "item": {"visit": visit, "subject": subject, "state": state_of(visit, today)},
            "results": RESULTS,
            "today": today,
        },
        session=session,
        actor=actor,
    )


@router.post("/visits/{visit_id}/complete", name="clinicCompleteVisit", response_class=HTMLResponse)
async def complete(
    visit_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: web.VisitActor,
    _csrf: web.CsrfChecked,
    context: AuditContextDep,
    completed_on: Annotated[date, Form()],
    hba1c_percent: Annotated[float | None, Form()] = None,
    c_peptide_stimulated_ng_ml: Annotated[float | None, Form()] = None,
    weight_kg: Annotated[float | None, Form()] = None,
) -> Response:
    visit, participant = await recording.complete(
        session=session,
        actor=actor,
        visit_id=visit_id,
        completed_on=completed_on,
        results={
            "hba1c_percent": hba1c_percent,
            "c_peptide_stimulated_ng_ml": c_peptide_stimulated_ng_ml,
            "weight_kg": weight_kg,
        },
        reason=None,
        version=None,
        context=context,
    )
    return await _after(request, session, actor, visit, participant.subject_code)


@router.post("/visits/{visit_id}/missed", name="clinicMissVisit", response_class=HTMLResponse)
async def missed(
    visit_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: web.VisitActor,
    _csrf: web.CsrfChecked,
    context: AuditContextDep,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
) -> Response:
    visit, participant = await recording.mark_missed(
        session=session, actor=actor, visit_id=visit_id, reason=reason, version=None, context=context
    )
    return await _after(request, session, actor, visit, participant.subject_code)
