"""Study set-up: create a study, read it, new protocol versions, staff accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import AdminActor, AuditContextDep, SessionDep, StaffActor, UnblindedActor
from api.errors import responses
from api.schemas.studies import (
    ProtocolChange,
    ProtocolVersionPublic,
    RandomisationListPublic,
    RandomisationUpload,
    SlotCountPublic,
    StaffCreate,
    StaffPublic,
    StudyCreate,
    StudyMembershipPublic,
    StudyPage,
    StudyPublic,
)
from core import recipients
from core.models.people import Role
from core.studies import membership, randomisation
from core.studies import service as study_service

router = APIRouter(tags=["studies"])


@router.post(
    "/studies",
    operation_id="createStudy",
    status_code=201,
    response_model=StudyPublic,
    response_model_exclude_unset=True,
    responses=responses(401, 403, 409, 422),
)
async def create_study(
    session: SessionDep, actor: AdminActor, context: AuditContextDep, body: StudyCreate
) -> StudyPublic:
    """A study with its sites, arms and protocol version 1; `protocol` overrides any default (CLINICAL.md A)."""
    view = await study_service.create_study(
        session=session,
        actor=actor,
        code=body.code,
        name=body.name,
        timezone=body.timezone,
        blinded=body.blinded,
        sites=[study_service.SiteSpec(s.code, s.name, s.timezone) for s in body.sites],
        arms=[study_service.ArmSpec(a.code, a.name) for a in body.arms],
        protocol_overrides=body.protocol,
        context=context,
    )
    return StudyPublic.of(view)


@router.get(
    "/studies", operation_id="listStudies", response_model=StudyPage, responses=responses(401, 403, 422)
)
async def list_studies(
    session: SessionDep,
    actor: StaffActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> StudyPage:
    """The studies the caller is staff of (admin: every study), by code, with the caller's role and sites."""
    page = await membership.studies_page(session=session, actor=actor, limit=limit, cursor=cursor)
    return StudyPage(items=[StudyMembershipPublic.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.get(
    "/studies/{study_id}",
    operation_id="getStudy",
    response_model=StudyPublic,
    response_model_exclude_unset=True,
    responses=responses(401, 403, 404),
)
async def read_study(session: SessionDep, actor: StaffActor, study_id: uuid.UUID) -> StudyPublic:
    """The study, its sites and the protocol in force; arms only for roles that see the allocation; `warnings`
    names each site with no clinician (its clinical alerts go to the study's coordinators)."""
    answer = StudyPublic.of(await study_service.study_view(session=session, actor=actor, study_id=study_id))
    # a small hook of the delivery work: the routing's one blind spot, said where staff look at the study
    uncovered = await recipients.sites_without_clinician(session=session, study_id=study_id)
    answer.warnings = [
        f"site {code} ({name}) has no clinician: its clinical alerts go to the study's coordinators"
        for _study, code, name in uncovered
    ]
    return answer


@router.post(
    "/studies/{study_id}/protocol/versions",
    operation_id="createProtocolVersion",
    status_code=201,
    response_model=ProtocolVersionPublic,
    responses=responses(401, 403, 404, 422),
)
async def change_protocol(
    session: SessionDep,
    actor: AdminActor,
    context: AuditContextDep,
    study_id: uuid.UUID,
    body: ProtocolChange,
) -> ProtocolVersionPublic:
    """A new protocol version (n+1) from the one in force with the changes laid over it."""
    row = await study_service.new_protocol_version(
        session=session, actor=actor, study_id=study_id, overrides=body.protocol, context=context
    )
    return ProtocolVersionPublic.model_validate(row, from_attributes=True)


@router.get(
    "/studies/{study_id}/protocol/versions/{version}",
    operation_id="getProtocolVersion",
    response_model=ProtocolVersionPublic,
    responses=responses(401, 403, 404),
)
async def read_protocol_version(
    session: SessionDep, actor: StaffActor, study_id: uuid.UUID, version: Annotated[int, Path(ge=1)]
) -> ProtocolVersionPublic:
    """Any protocol version the study ever had."""
    row = await study_service.read_protocol_version(
        session=session, actor=actor, study_id=study_id, version=version
    )
    return ProtocolVersionPublic.model_validate(row, from_attributes=True)


@router.post(
    "/studies/{study_id}/staff",
    operation_id="addStaff",
    status_code=201,
    response_model=StaffPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def add_staff(
    session: SessionDep, actor: AdminActor, context: AuditContextDep, study_id: uuid.UUID, body: StaffCreate
) -> StaffPublic:
    """A staff account assigned to sites of the study (no site codes: study-wide)."""
    user, _ = await study_service.add_staff(
        session=session,
        actor=actor,
        study_id=study_id,
        email=body.email,
        password=body.password,
        role=Role(body.role),
        site_codes=body.site_codes,
        context=context,
    )
    return StaffPublic(
        id=user.id, email=user.email, role=user.role, study_id=study_id, site_codes=body.site_codes
    )


@router.post(
    "/studies/{study_id}/randomisation",
    operation_id="uploadRandomisationList",
    status_code=201,
    response_model=RandomisationListPublic,
    responses=responses(401, 403, 404, 409, 422),
)
async def upload_randomisation_list(
    session: SessionDep,
    actor: UnblindedActor,
    context: AuditContextDep,
    study_id: uuid.UUID,
    body: RandomisationUpload,
) -> RandomisationListPublic:
    """Add slots to the randomisation list (statistician; audited without arms). Enrolments of a study with
    `allocation.method: list` take the next free slot of their site and stratum; the answer counts slots."""
    study = await study_service.study_in_scope(session=session, actor=actor, study_id=study_id)
    counts = await randomisation.upload(
        session=session,
        actor=actor,
        study=study,
        slots=[randomisation.SlotSpec(s.site_code, s.stratum, s.sequence, s.arm_code) for s in body.slots],
        context=context,
    )
    return RandomisationListPublic(counts=[SlotCountPublic(**vars(c)) for c in counts])
