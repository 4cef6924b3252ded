"""Enrolling participants (eligibility, consent, first weight) and listing them as each role may see them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access, audit
from core.access import Actor
from core.errors import Conflict, FieldProblem, Forbidden, InvalidInput
from core.models.people import ParticipantOrGuardian, Role
from core.models.study import (
    Arm,
    Participant,
    ParticipantStatus,
    ParticipantWeight,
    Sex,
    Site,
    StaffAssignment,
    Study,
)
from core.pagination import Page, SortKey, paginate
from core.protocol import AllocationMethod
from core.rules import lifecycle as alert_lifecycle
from core.studies import eligibility, randomisation
from core.studies import protocol as study_protocol
from core.studies.eligibility import Criterion
from core.studies.service import check_timezone, study_in_scope
from core.visits import service as visit_service


@dataclass(frozen=True)
class Consent:
    given_by: ParticipantOrGuardian
    date: date
    form_version: str


@dataclass(frozen=True)
class EligibilityOverride:
    criterion: Criterion
    reason: str


@dataclass(frozen=True)
class Enrolment:
    subject_code: str
    site_code: str
    arm_code: str | None
    sex: Sex
    birth_date: date
    enrolled_at: datetime
    treatment_date: date
    timezone: str
    weight_kg: float
    diagnosis_date: date | None = None
    height_cm: float | None = None
    consent: Consent | None = None
    eligibility_override: EligibilityOverride | None = None
    stratum: str | None = None  # the randomisation list's stratum (allocation.method list)


@dataclass(frozen=True)
class ParticipantView:
    """A participant as one actor may see it: `arm_code` is None unless the actor sees the allocation."""

    participant: Participant
    site_code: str
    arm_code: str | None
    shows_allocation: bool
    open_alert_count: int | None = None  # filled by the participants list


BY_SUBJECT_CODE = (
    SortKey(col(Participant.subject_code), str),
    SortKey(col(Participant.id), uuid.UUID),
)


async def enrol(
    *,
    session: AsyncSession,
    actor: Actor,
    study_id: uuid.UUID,
    enrolment: Enrolment,
    context: audit.AuditContext,
) -> ParticipantView:
    """Enrol a participant at a site the coordinator works at; a failed eligibility criterion needs an override."""
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    site = await _site(session=session, actor=actor, study=study, site_code=enrolment.site_code)
    settings, _ = await study_protocol.current_protocol(session=session, study_id=study.id)
    by_list = settings.allocation.method is AllocationMethod.list
    arm = await _arm(
        session=session, study=study, arm_code=enrolment.arm_code, by_list=by_list, stratum=enrolment.stratum
    )
    check_timezone(enrolment.timezone, "timezone")
    enrolled_on = enrolment.enrolled_at.date()
    if enrolment.birth_date > enrolled_on:
        raise _invalid("birth_date", f"{enrolment.birth_date} is after the enrolment date {enrolled_on}")

    failures = eligibility.check(
        settings.eligibility,
        birth_date=enrolment.birth_date,
        enrolled_on=enrolled_on,
        diagnosis_date=enrolment.diagnosis_date,
        height_cm=enrolment.height_cm,
        weight_kg=enrolment.weight_kg,
    )
    override = enrolment.eligibility_override
    unforgiven = [f for f in failures if override is None or f.criterion != override.criterion]
    if unforgiven:
        named = ", ".join(f.criterion for f in unforgiven)
        raise InvalidInput(
            f"Not eligible ({named}): "
            + "; ".join(f"{f.criterion}: {f.message}" for f in unforgiven)
            + ". A coordinator may record eligibility_override {criterion, reason} for one criterion.",
            fields=[FieldProblem(f.path, f"{f.criterion}: {f.message}") for f in unforgiven],
        )

    taken = await session.execute(
        select(Participant.id).where(
            col(Participant.study_id) == study.id, col(Participant.subject_code) == enrolment.subject_code
        )
    )
    if taken.first() is not None:
        raise Conflict(
            f"Subject code {enrolment.subject_code} is already enrolled in {study.code}.",
            fields=[FieldProblem("subject_code", enrolment.subject_code)],
        )
    consent = enrolment.consent
    participant = Participant(
        study_id=study.id,
        site_id=site.id,
        arm_id=arm.id if arm else None,
        subject_code=enrolment.subject_code,
        sex=enrolment.sex,
        birth_date=enrolment.birth_date,
        diagnosis_date=enrolment.diagnosis_date,
        height_cm=enrolment.height_cm,
        enrolled_at=enrolment.enrolled_at,
        treatment_date=enrolment.treatment_date,
        status=ParticipantStatus.enrolled,
        timezone=enrolment.timezone,
        consent_given_by=consent.given_by if consent else None,
        consent_date=consent.date if consent else None,
        consent_form_version=consent.form_version if consent else None,
        eligibility_override=(
            {"criterion": override.criterion, "reason": override.reason, "by": str(actor.user_id)}
            if override is not None and any(f.criterion == override.criterion for f in failures)
            else None
        ),
    )
    session.add(participant)
    await session.flush()
    if by_list:
        participant.arm_id = await randomisation.allocate(
            session=session, study=study, site=site, stratum=enrolment.stratum, participant=participant
        )
        session.add(participant)
    session.add(
        ParticipantWeight(
            participant_id=participant.id,
            measured_at=enrolment.enrolled_at,
            kg=enrolment.weight_kg,
            source="enrolment",
            recorded_by=actor.user_id,
        )
    )
    await session.flush()
    await audit.record(
        session=session,
        actor_id=actor.user_id,
        action="participant.enrolled",
        subject_type="participant",
        subject_id=participant.id,
        after={
            **participant.model_dump(exclude={"created_at"}),
            "weight_kg": enrolment.weight_kg,
            "eligibility_failures": [f.criterion for f in failures],
        },
        context=context,
    )
    await visit_service.plan_participant(
        session=session, participant=participant, actor=actor, reason="enrolled"
    )
    return await participant_view(session=session, actor=actor, participant=participant)


async def list_participants(
    *, session: AsyncSession, actor: Actor, study_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[ParticipantView]:
    """The study's participants in the actor's scope, by subject code (arms only for unblinded roles)."""
    study = await study_in_scope(session=session, actor=actor, study_id=study_id)
    shows = access.sees_allocation(actor, study)
    query = (
        select(Participant, Site.code, Arm.code, alert_lifecycle.open_alert_count())
        .join(Site, col(Site.id) == col(Participant.site_id))
        .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
        .where(col(Participant.study_id) == study.id, access.participant_scope(actor))
    )
    page = await paginate(session, query, keys=BY_SUBJECT_CODE, limit=limit, cursor=cursor)
    items = [
        ParticipantView(p, site_code, arm_code if shows else None, shows, open_alerts)
        for p, site_code, arm_code, open_alerts in page.items
    ]
    return Page(items, page.next_cursor)


async def participant_view(
    *, session: AsyncSession, actor: Actor, participant: Participant
) -> ParticipantView:
    """`participant` (already loaded through the scoping function) as `actor` may see it."""
    study = await session.get(Study, participant.study_id)
    site = await session.get(Site, participant.site_id)
    assert study is not None and site is not None
    shows = access.sees_allocation(actor, study)
    arm = await session.get(Arm, participant.arm_id) if shows and participant.arm_id else None
    return ParticipantView(participant, site.code, arm.code if arm else None, shows)


async def _site(*, session: AsyncSession, actor: Actor, study: Study, site_code: str) -> Site:
    site = (
        await session.execute(select(Site).where(col(Site.study_id) == study.id, col(Site.code) == site_code))
    ).scalar_one_or_none()
    if site is None:
        raise _invalid("site_code", f"{site_code!r} is not a site of {study.code}")
    if actor.role is not Role.admin:
        assigned = await session.execute(
            select(StaffAssignment.id).where(
                col(StaffAssignment.user_id) == actor.user_id,
                col(StaffAssignment.study_id) == study.id,
                or_(col(StaffAssignment.site_id).is_(None), col(StaffAssignment.site_id) == site.id),
            )
        )
        if assigned.first() is None:
            raise Forbidden(
                f"You are not assigned to site {site_code}; enrol participants at your own sites."
            )
    return site


async def _arm(
    *, session: AsyncSession, study: Study, arm_code: str | None, by_list: bool, stratum: str | None
) -> Arm | None:
    """The arm the enrolment names, checked against the protocol's allocation method (no arm codes in errors)."""
    if by_list:
        if arm_code is not None:
            raise _invalid(
                "arm_code",
                f"{study.code} allocates from its randomisation list: leave arm_code out, the list assigns it",
            )
        return None
    if stratum is not None:
        raise _invalid(
            "stratum",
            f"{study.code} allocates by the arm named at enrolment; a stratum applies to a randomisation list",
        )
    if arm_code is None:
        randomised = (
            await session.execute(select(Arm.id).where(col(Arm.study_id) == study.id).limit(1))
        ).first()
        if randomised is not None:
            raise _invalid(
                "arm_code",
                f"required: {study.code} has arms and allocates at enrolment (protocol allocation.method named); "
                "a study whose arms come from a randomisation list sets allocation.method list",
            )
        return None
    arm = (
        await session.execute(select(Arm).where(col(Arm.study_id) == study.id, col(Arm.code) == arm_code))
    ).scalar_one_or_none()
    if arm is None:
        # the allowed codes are not listed: a blinded coordinator must not learn them from an error
        raise _invalid("arm_code", f"{arm_code!r} is not an arm of {study.code}")
    return arm


def _invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}.", fields=[FieldProblem(path, message)])
