"""Study endpoint reports as JSON or tidy CSV (streamed), and the data dictionary that types their columns."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api import csvstream
from api.deps import AuditContextDep, SessionDep, StaffActor, StreamSessionDep
from api.errors import responses
from api.schemas.reports import (
    Dictionary,
    DictionaryItem,
    ReportAnswer,
    SnapshotCreate,
    SnapshotPage,
    SnapshotPublic,
)
from core.reports import columns, snapshots
from core.reports import service as reports
from core.reports.service import Filters, Plan, Report

router = APIRouter(prefix="/studies/{study_id}/reports", tags=["reports"])

_ERRORS = responses(401, 403, 404, 422)
_ANSWERS = {**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "JSON, or with format=csv tidy CSV"}}

Site = Annotated[str | None, Query(max_length=40, description="a site code")]
ArmCode = Annotated[str | None, Query(max_length=40, description="an arm code (unblinded roles only)")]
From = Annotated[date | None, Query(alias="from", description="first local date (inclusive)")]
To = Annotated[date | None, Query(description="data cut: local date the report stops before (exclusive)")]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]


def _json(report: Report) -> Response:
    return Response(
        ReportAnswer.of(report).model_dump_json(by_alias=True, exclude_unset=True),
        media_type="application/json",
    )


def _csv(plan: Plan, stream: AsyncSession) -> Response:
    """The rows as tidy CSV, written as the database sends them (`stream` lives until the last byte)."""
    names = [c.name for c in plan.report.columns]

    async def chunks() -> AsyncIterator[list[list[Any]]]:
        async for rows in reports.stream_rows(stream, plan):
            yield [[row.get(n) for n in names] for row in rows]

    return csvstream.response(f"{plan.report.name}-{plan.report.filters['to']}.csv", names, chunks())


def _add_report(name: str, operation_id: str, summary: str) -> None:
    async def report_route(
        study_id: uuid.UUID,
        session: SessionDep,
        stream: StreamSessionDep,
        actor: StaffActor,
        site: Site = None,
        arm: ArmCode = None,
        from_: From = None,
        to: To = None,
        format: Format = "json",
    ) -> Response:
        filters = Filters(site=site, arm=arm, start=from_, to=to)
        if format == "csv":
            plan = await reports.prepare(
                session=session, actor=actor, study_id=study_id, report=name, filters=filters
            )
            return _csv(plan, stream)
        report = await reports.build(
            session=session, actor=actor, study_id=study_id, report=name, filters=filters
        )
        return _json(report)

    report_route.__doc__ = summary
    router.add_api_route(
        f"/{name}",
        report_route,
        methods=["GET"],
        response_model=ReportAnswer,
        operation_id=operation_id,
        responses=_ANSWERS,
        name=operation_id,
    )


_add_report(
    "hypoglycemia",
    "getHypoglycemiaReport",
    "Episodes by level and category per participant per 3-month frame, with exposure and event rates.",
)
_add_report(
    "glycemic-control",
    "getGlycemicControlReport",
    "Fasting and postprandial glucose, % in the protocol range, SD and CV, % below 70 and 54 per frame.",
)
_add_report(
    "insulin",
    "getInsulinReport",
    "Total daily insulin dose, IU/kg/day, change from the 14-day baseline and its category per frame.",
)
_add_report(
    "visits",
    "getVisitsReport",
    "HbA1c (% and mmol/mol), fasting and stimulated C-peptide, CPGR, BMI and IDAA1c by visit.",
)
_add_report(
    "completeness",
    "getCompletenessReport",
    "Expected vs logged fasting readings per participant per week from day 0.",
)
_add_report(
    "exercise",
    "getExerciseReport",
    "Exercise sessions and minutes per week against the protocol's regimen; glucose on exercise days vs others.",
)


@router.get("/dictionary", response_model=Dictionary, operation_id="getReportDictionary", responses=_ERRORS)
async def report_dictionary(study_id: uuid.UUID, session: SessionDep, actor: StaffActor) -> Dictionary:
    """Every column of every report: type, unit, definition, source (what the caller's reports contain)."""
    _, _, unblinded = await reports.resolve_scope(
        session=session, actor=actor, study_id=study_id, filters=Filters()
    )
    items = [
        DictionaryItem(
            report=name,
            table=table,
            column=c.name,
            type=c.type,
            unit=c.unit,
            definition=c.definition,
            source=c.source,
        )
        for name, tables in columns.REPORTS.items()
        for table, cols in zip(("rows", "aggregates"), tables, strict=True)
        for c in columns.visible(cols, unblinded=unblinded)
    ]
    return Dictionary(items=items)


snapshots_router = APIRouter(prefix="/studies/{study_id}/snapshots", tags=["reports"])


@snapshots_router.post(
    "",
    response_model=SnapshotPublic,
    status_code=201,
    operation_id="createSnapshot",
    responses=responses(401, 403, 404, 422),
)
async def create_snapshot(
    study_id: uuid.UUID,
    body: SnapshotCreate,
    session: SessionDep,
    actor: StaffActor,
    context: AuditContextDep,
) -> SnapshotPublic:
    """Freeze every report of the study at a data cut: tied to the protocol version and the diary's change
    position, with a SHA-256 of its content; it never changes afterwards."""
    snapshot = await snapshots.create(
        session=session, actor=actor, study_id=study_id, cut=body.cut, context=context
    )
    return SnapshotPublic.of(snapshot)


@snapshots_router.get(
    "", response_model=SnapshotPage, operation_id="listSnapshots", responses=responses(401, 403, 404, 422)
)
async def list_snapshots(
    study_id: uuid.UUID,
    session: SessionDep,
    actor: StaffActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SnapshotPage:
    """The study's data cuts, newest first."""
    page = await snapshots.page(session=session, actor=actor, study_id=study_id, limit=limit, cursor=cursor)
    return SnapshotPage(items=[SnapshotPublic.of(s) for s in page.items], next_cursor=page.next_cursor)


@snapshots_router.get(
    "/{snapshot_id}/content",
    operation_id="downloadSnapshot",
    responses={
        **responses(401, 403, 404),
        200: {"content": {"application/json": {}}, "description": "as frozen"},
    },
)
async def download_snapshot(
    study_id: uuid.UUID, snapshot_id: uuid.UUID, session: SessionDep, actor: StaffActor
) -> Response:
    """The snapshot's content, byte for byte as frozen (its SHA-256 is the ETag)."""
    snapshot = await snapshots.get(session=session, actor=actor, study_id=study_id, snapshot_id=snapshot_id)
    return Response(
        snapshot.content.encode(),
        media_type="application/json",
        headers={
            "ETag": f'"{snapshot.content_sha256}"',
            "Content-Disposition": f'attachment; filename="snapshot-{snapshot.id}.json"',
        },
    )
