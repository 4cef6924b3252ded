"""The study's endpoint reports as pages: tables per time frame, a small chart, and a CSV download.

Both call core.reports.service, the JSON API's own (same roles, sites, blinding and figures): the page `build`,
the download `prepare` and `stream_rows` written by api.csvstream, as the API's `format=csv` is (the same bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api import csvstream
from api.clinic import web
from api.deps import SessionDep, StreamSessionDep
from core.access import Actor
from core.dashboard import overview, report_view
from core.errors import NotFound
from core.reports import service
from core.reports.service import Filters
from core.studies.protocol import current_protocol

router = APIRouter()

StudyId = Annotated[uuid.UUID | None, Query(description="the study (default: the first in scope)")]
Site = Annotated[str | None, Query(max_length=40)]
ArmCode = Annotated[str | None, Query(max_length=40)]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query()]
Frame = Annotated[int | None, Query(ge=1, le=99)]


async def _study(
    session: SessionDep, actor: Actor, study: uuid.UUID | None
) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    studies = await overview.studies_in_scope(session=session, actor=actor)
    if study is None:
        if not studies:
            raise NotFound("You hold no assignment in a study, so there is no report to show.")
        return studies[0][0], studies
    return study, studies


def _filters(site: str | None, arm: str | None, start: date | None, to: date | None) -> Filters:
    # an empty select ("all sites") sends site=; it means no filter
    return Filters(site=site or None, arm=arm or None, start=start, to=to)


@router.get("/reports", name="clinicReports", response_class=HTMLResponse)
@router.get("/reports/{report}", name="clinicReport", response_class=HTMLResponse)
async def report_page(
    request: Request,
    session: SessionDep,
    actor: web.ReportActor,
    report: str = "hypoglycemia",
    study: StudyId = None,
    site: Site = None,
    arm: ArmCode = None,
    from_: From = None,
    to: To = None,
    frame: Frame = None,
) -> Response:
    """One report of one study: per time frame its summary by site and each participant's row, a chart of the
    trend over every site, the columns' meaning, and the CSV of exactly these filters."""
    study_id, studies = await _study(session, actor, study)
    filters = _filters(site, arm, from_, to)
    built = await service.build(
        session=session, actor=actor, study_id=study_id, report=report, filters=filters
    )
    protocol, _version = await current_protocol(session=session, study_id=study_id)
    view = report_view.view_of(built, months=protocol.time_frame_months, frame=frame)
    chosen = await report_view.choices(session=session, actor=actor, study_id=study_id)
    query = {"study": str(study_id), "site": filters.site, "from": from_, "to": to}
    if chosen.arms:  # unblinded readers only: a blinded reader's links carry no arm, not even empty
        query["arm"] = filters.arm
    kept = {k: str(v) for k, v in query.items() if v is not None}
    return await web.page(
        request,
        "reports.html",
        {
            "active": "reports",
            "titles": report_view.TITLES,
            "view": view,
            "chart_json": view.chart.document() if view.chart else None,
            "studies": studies,
            "study_id": study_id,
            "choices": chosen,
            "filters": filters,
            "frame": frame,
            "query": urlencode(kept),
            "csv_href": f"{web.PREFIX}/reports/{report}/csv?{urlencode(kept)}",
        },
        session=session,
        actor=actor,
    )


@router.get("/reports/{report}/csv", name="clinicReportCsv")
async def report_csv(
    session: SessionDep,
    stream: StreamSessionDep,
    actor: web.ReportActor,
    report: str,
    study: StudyId = None,
    site: Site = None,
    arm: ArmCode = None,
    from_: From = None,
    to: To = None,
) -> Response:
    """The whole report as tidy CSV (every frame), streamed from the database as the API's `format=csv` is."""
    study_id, _studies = await _study(session, actor, study)
    plan = await service.prepare(
        session=session, actor=actor, study_id=study_id, report=report, filters=_filters(site, arm, from_, to)
    )
    names = [c.name for c in plan.report.columns]

    async def chunks() -> AsyncIterator[list[list[Any]]]:
        async for rows in service.stream_rows(stream, plan):
            yield [[row.get(n) for n in names] for row in rows]

    return csvstream.response(f"{plan.report.name}-{plan.report.filters['to']}.csv", names, chunks())
