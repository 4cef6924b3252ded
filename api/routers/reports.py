"""Study endpoint reports as JSON or tidy CSV (streamed), and the data dictionary that types their columns."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import AuditContextDep, SessionDep, StaffActor
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
from core.reports.service import Filters, Report

router = APIRouter(prefix="/studies/{study_id}/reports", tags=["reports"])

CSV_CHUNK_ROWS = 500
_ERRORS = responses(401, 403, 404, 422)
_ANSWERS = {**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "JSON, or with format=csv tidy CSV"}}

Site = Annotated[str | None, Query(max_length=40, description="a site code")]
ArmCode = Annotated[str | None, Query(max_length=40, description="an arm code (unblinded roles only)")]
From = Annotated[date | None, Query(alias="from", description="first local date (inclusive)")]
To = Annotated[date | None, Query(description="data cut: local date the report stops before (exclusive)")]
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, date) else value


def _csv_lines(report: Report) -> Iterator[str]:
    names = [c.name for c in report.columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for start in range(0, len(report.rows), CSV_CHUNK_ROWS):
        for row in report.rows[start : start + CSV_CHUNK_ROWS]:
            writer.writerow([_cell(row.get(n)) for n in names])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell() or not report.rows:
        yield buffer.getvalue()


def _answer(report: Report, fmt: str) -> Response:
    if fmt == "csv":
        filename = f"{report.name}-{report.filters['to']}.csv"
        return StreamingResponse(
            _csv_lines(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(
        ReportAnswer.of(report).model_dump_json(by_alias=True, exclude_unset=True),
        media_type="application/json",
    )


def _add_report(name: str, operation_id: str, summary: str) -> None:
    async def report_route(
        study_id: uuid.UUID,
        session: SessionDep,
        actor: StaffActor,
        site: Site = None,
        arm: ArmCode = None,
        from_: From = None,
        to: To = None,
        format: Format = "json",
    ) -> Response:
        filters = Filters(site=site, arm=arm, start=from_, to=to)
        report = await reports.build(
            session=session, actor=actor, study_id=study_id, report=name, filters=filters
        )
        return _answer(report, format)

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
