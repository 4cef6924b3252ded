"""Setting up a study: creating it with its sites, arms and protocol, new protocol versions, staff accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, audit
from core.access import Actor
from core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from core.models.people import STAFF_ROLES, Role, User
from core.models.study import Arm, ProtocolVersion, Site, StaffAssignment, Study
from core.people import service as people_service
from core.protocol import DEFAULT_PROTOCOL, ProtocolSettings, with_overrides
from core.studies import protocol as study_protocol
from core.visits import service as visit_service


@dataclass(frozen=True)
class SiteSpec:
    code: str
    name: str
    timezone: str


@dataclass(frozen=True)
class ArmSpec:
    code: str
    name: str


@dataclass(frozen=True)
class StudyView:
    """A study as one actor may see it: `arms` is None when the actor may not see the allocation."""

    study: Study
    sites: list[Site]
    arms: list[Arm] | None
    protocol: ProtocolVersion


def check_timezone(name: str, path: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{path}: {name!r} is not an IANA time zone.",
            fields=[FieldProblem(path, f"unknown time zone {name!r}; expected e.g. Europe/Ljubljana")],
        ) from None
    return name


def protocol_from_overrides(base: ProtocolSettings, overrides: dict[str, Any]) -> ProtocolSettings:
    """`base` with the overrides laid over it; a bad override is a 422 naming its path (protocol.glucose...)."""
    try:
        return with_overrides(base, overrides)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                ".".join(["protocol", *(str(part) for part in err["loc"])]),
                f"{err['msg'].removeprefix('Value error, ')} (got {err.get('input')!r})"
                if err["type"] != "extra_forbidden"
                else "unknown protocol setting",
            )
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p.path}: {p.message}" for p in problems[:3])
        raise InvalidInput(f"The protocol settings are not valid: {summary}", fields=problems) from None


async def study_in_scope(*, session: AsyncSession, actor: Actor, study_id: uuid.UUID) -> Study:
    """The study if the actor is staff of it (or admin); NotFound otherwise, like a study that does not exist."""
    result = await session.execute(select(Study).where(col(Study.id) == study_id, access.study_scope(actor)))
    study = result.scalar_one_or_none()
    if study is None:
        raise NotFound("No such study.")
    return study


async def create_study(
    *,
    session: AsyncSession,
    actor: Actor,
    code: str,
    name: str,
    timezone: str,
    blinded: bool,
    sites: list[SiteSpec],
    arms: list[ArmSpec],
    protocol_overrides: dict[str, Any],
    context: audit.AuditContext,
) -> StudyView:
    """A new study with its sites, arms and protocol version 1 (the defaults with the given overrides)."""
    check_timezone(timezone, "timezone")
    for i, site in enumerate(sites):
        check_timezone(site.timezone, f"sites.{i}.timezone")
    for label, codes in (("sites", [s.code for s in sites]), ("arms", [a.code for a in arms])):
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise InvalidInput(
                f"{label}: codes must be unique (repeated: {', '.join(duplicates)}).",
                fields=[FieldProblem(label, f"repeated codes {duplicates}")],
            )
    settings = protocol_from_overrides(DEFAULT_PROTOCOL, protocol_overrides)
    if (await session.execute(select(Study.id).where(col(Study.code) == code))).first() is not None:
        raise Conflict(f"A study with code {code} exists already.", fields=[FieldProblem("code", code)])
    study = Study(code=code, name=name, timezone=timezone, blinded=blinded, protocol_version=1)
    session.add(study)
    await session.flush()
    version = ProtocolVersion(
        study_id=study.id, version=1, settings=settings.model_dump(mode="json"), created_by=actor.user_id
    )
    site_rows = [Site(study_id=study.id, code=s.code, name=s.name, timezone=s.timezone) for s in sites]
    arm_rows = [Arm(study_id=study.id, code=a.code, name=a.name) for a in arms]
    session.add_all([version, *site_rows, *arm_rows])
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="study.created",
        subject_type="study",
        subject_id=study.id,
        after={
            "code": code,
            "name": name,
            "timezone": timezone,
            "blinded": blinded,
            "sites": [s.code for s in sites],
            "arms": [a.code for a in arms],
            "protocol_overrides": protocol_overrides,
        },
        context=context,
    )
    return StudyView(study=study, sites=site_rows, arms=arm_rows, protocol=version)


async def study_view(*, session: AsyncSession, actor: Actor, study_id: uuid.UUID) -> StudyView:
    """The study, its sites and protocol in force; arms only for roles that may see the allocation."""
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    sites = (
        (await session.execute(select(Site).where(col(Site.study_id) == study.id).order_by(col(Site.code))))
        .scalars()
        .all()
    )
    arms = None
    if access.sees_allocation(actor, study):
        arms = list(
            (await session.execute(select(Arm).where(col(Arm.study_id) == study.id).order_by(col(Arm.code))))
            .scalars()
            .all()
        )
    version = await study_protocol.protocol_version(session=session, study_id=study.id)
    return StudyView(study=study, sites=list(sites), arms=arms, protocol=version)


async def read_protocol_version(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, version: int
) -> ProtocolVersion:
    """Any protocol version the study ever had (staff of the study)."""
    await study_in_scope(session=session, actor=actor, study_id=study_id)
    return await study_protocol.protocol_version(session=session, study_id=study_id, version=version)


async def new_protocol_version(
    *,
    session: AsyncSession,
    actor: Actor,
    study_id: uuid.UUID,
    overrides: dict[str, Any],
    context: audit.AuditContext,
) -> ProtocolVersion:
    """Version n+1: the settings in force with `overrides` laid over them; older versions stay readable."""
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    current = await study_protocol.protocol_version(session=session, study_id=study.id)
    settings = protocol_from_overrides(ProtocolSettings.model_validate(current.settings), overrides)
    row = ProtocolVersion(
        study_id=study.id,
        version=current.version + 1,
        settings=settings.model_dump(mode="json"),
        created_by=actor.user_id,
    )
    study.protocol_version = row.version
    access.remember_protocol_version(session, study.id, row.version)
    session.add_all([row, study])
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="study.protocol_changed",
        subject_type="study",
        subject_id=study.id,
        before={"version": current.version},
        after={"version": row.version, "overrides": overrides},
        context=context,
    )
    await visit_service.replan_study(
        session=session,
        study_id=study.id,
        actor=actor,
        reason=f"protocol version {row.version}",
        context=context,
    )
    return row


async def add_staff(
    *,
    session: AsyncSession,
    actor: Actor,
    study_id: uuid.UUID,
    email: str,
    password: str,
    role: Role,
    site_codes: list[str],
    context: audit.AuditContext,
) -> tuple[User, list[StaffAssignment]]:
    """A staff account assigned to sites of the study (no site codes: study-wide)."""
    if role not in STAFF_ROLES:
        raise InvalidInput(
            f"role: {role.value} is not a staff role.",
            fields=[FieldProblem("role", "allowed: clinician, coordinator, statistician")],
        )
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    site_ids: list[uuid.UUID | None] = [None]
    if site_codes:
        sites = {
            s.code: s.id
            for s in (await session.execute(select(Site).where(col(Site.study_id) == study.id))).scalars()
        }
        unknown = [c for c in site_codes if c not in sites]
        if unknown:
            raise InvalidInput(
                f"site_codes: {', '.join(unknown)} not a site of {study.code}.",
                fields=[FieldProblem("site_codes", f"unknown {unknown}; allowed {sorted(sites)}")],
            )
        site_ids = [sites[c] for c in dict.fromkeys(site_codes)]
    user = await people_service.create_user(session=session, email=email, password=password, role=role)
    assignments = [
        StaffAssignment(user_id=user.id, study_id=study.id, site_id=sid, role=role) for sid in site_ids
    ]
    session.add_all(assignments)
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="staff.assigned",
        subject_type="user",
        subject_id=user.id,
        after={"email": user.email, "role": role, "study_id": study.id, "site_codes": site_codes or None},
        context=context,
    )
    return user, assignments
