"""Participants: the sortable list with its flags, one participant's chart, diary and dose reviews, and an
entry's history. The participant comes through api.deps.ParticipantInScope, the JSON API's own scoping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api import diary_answers
from api.clinic import web
from api.deps import ParticipantInScope, SessionDep
from core.dashboard import chart as chart_service
from core.dashboard import overview
from core.diary import reads as diary_reads
from core.models.alerts import AlertCategory
from core.rules import lifecycle
from core.studies import enrolment
from core.visits import service as visit_service

router = APIRouter()

DIARY_PAGE = 50
REVIEWS = 10
SORTS = {
    "subject_code": lambda r: r.subject_code,
    "site": lambda r: (r.site_code, r.subject_code),
    "status": lambda r: (r.status, r.subject_code),
    "last_entry": lambda r: (r.last_entry_at or datetime.min.replace(tzinfo=UTC), r.subject_code),
    "open_alerts": lambda r: (r.open_alerts, r.subject_code),
    "out_of_range": lambda r: (r.out_of_range, r.subject_code),
    # participants with no current frame sort below every figure
    "frame_episodes": lambda r: (-1 if r.frame_episodes is None else r.frame_episodes, r.subject_code),
    "completeness": lambda r: (-1.0 if r.completeness_pct is None else r.completeness_pct, r.subject_code),
}
SortKey = Literal[
    "subject_code",
    "site",
    "status",
    "last_entry",
    "open_alerts",
    "out_of_range",
    "frame_episodes",
    "completeness",
]


@router.get("/participants", name="clinicParticipants", response_class=HTMLResponse)
async def participants(
    request: Request,
    session: SessionDep,
    actor: web.StaffActor,
    sort: Annotated[SortKey, Query()] = "subject_code",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> Response:
    listed = await overview.participant_list(session=session, actor=actor)
    rows = sorted(listed.rows, key=SORTS[sort], reverse=order == "desc")
    return await web.page(
        request,
        "participants.html",
        {
            "active": "participants",
            "rows": rows,
            "shows_arms": listed.shows_arms,
            "truncated": listed.truncated,
            "sort": sort,
            "order": order,
            "recent_days": overview.RECENT_DAYS,
        },
        session=session,
        actor=actor,
    )


@router.get("/participants/{participant_id}", name="clinicParticipant", response_class=HTMLResponse)
async def participant(
    request: Request,
    session: SessionDep,
    actor: web.StaffActor,
    participant: ParticipantInScope,
    days: Annotated[Literal["14", "30", "90"], Query()] = "14",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Chart of the last 14/30/90 days against the protocol's ranges, dose reviews, visits with their results,
    the diary (newest first)."""
    view = await enrolment.participant_view(session=session, actor=actor, participant=participant)
    chart = await chart_service.chart(session=session, participant=participant, days=int(days))
    diary = await diary_reads.list_entries(
        session=session, participant=participant, include_voided=True, limit=DIARY_PAGE, cursor=cursor
    )
    reviews = await lifecycle.list_alerts(  # the ones waiting for a decision (decided ones: the inbox)
        session=session,
        actor=actor,
        participant_id=participant.id,
        category=AlertCategory.dose_review,
        unresolved=True,
        limit=REVIEWS,
    )
    return await web.page(
        request,
        "participant.html",
        {
            "active": "participants",
            "p": view,
            "chart": chart,
            "chart_json": chart.document(),
            "spans": chart_service.SPANS,
            "days": int(days),
            "entries": [diary_answers.entry(state) for state in diary.items],
            "next_cursor": diary.next_cursor,
            "cursor": cursor,
            "reviews": reviews.items,
            "visits": await visit_service.visits_of(session=session, participant_id=participant.id),
            "decisions": web.DECISIONS,
        },
        session=session,
        actor=actor,
    )


@router.get(
    "/participants/{participant_id}/entries/{entry_id}",
    name="clinicEntryHistory",
    response_class=HTMLResponse,
)
async def entry_history(
    request: Request,
    session: SessionDep,
    actor: web.StaffActor,
    participant: ParticipantInScope,
    entry_id: uuid.UUID,
) -> Response:
    """Every version of one diary entry: what changed, who changed it, when and why."""
    versions = await diary_reads.history(session=session, participant=participant, entry_id=entry_id)
    return await web.page(
        request,
        "entry.html",
        {"active": "participants", "participant": participant, "entry_id": entry_id, "versions": versions},
        session=session,
        actor=actor,
    )
