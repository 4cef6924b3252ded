"""Request and response bodies of study set-up: studies, protocol versions, staff, enrolment, participants."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas.pages import Page
from core.models.people import ParticipantOrGuardian, Role, StaffRole
from core.models.study import ParticipantStatus, Sex
from core.studies.eligibility import Criterion
from core.studies.enrolment import ParticipantView
from core.studies.membership import Membership
from core.studies.service import StudyView
from core.text import SafeText


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


def blinded(model: type[M], body: dict[str, Any], *, shows_allocation: bool, **allocation: Any) -> M:
    """`body` with the allocation fields (`arms`, `arm_code`) only for a caller who may see them. Unset fields
    stay out of the answer altogether (the routes use response_model_exclude_unset): a blinded caller never
    even sees the key."""
    return model.model_validate(body | allocation if shows_allocation else body)


Code = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")


class ArmCreate(_Body):
    code: str = Code
    name: SafeText = Field(min_length=1, max_length=200)


class SiteCreate(_Body):
    code: str = Code
    name: SafeText = Field(min_length=1, max_length=200)
    timezone: SafeText = Field(min_length=1, max_length=64)


class StudyCreate(_Body):
    code: str = Code
    name: SafeText = Field(min_length=1, max_length=200)
    timezone: SafeText = Field(min_length=1, max_length=64)
    blinded: bool = True
    arms: list[ArmCreate] = Field(default_factory=list, max_length=20)
    sites: list[SiteCreate] = Field(min_length=1, max_length=500)
    protocol: dict[str, Any] = Field(
        default_factory=dict, description="overrides of the CLINICAL.md part A defaults, any depth"
    )


class ProtocolChange(_Body):
    protocol: dict[str, Any] = Field(description="settings to change, laid over the version in force")


class SitePublic(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    timezone: str


class ArmPublic(BaseModel):
    id: uuid.UUID
    code: str
    name: str


class ProtocolVersionPublic(BaseModel):
    version: int
    settings: dict[str, Any]
    created_at: datetime


class StudyPublic(BaseModel):
    """`arms` is absent for roles that may not see the allocation of a blinded study."""

    id: uuid.UUID
    code: str
    name: str
    timezone: str
    blinded: bool
    sites: list[SitePublic]
    arms: list[ArmPublic] | None = None
    protocol: ProtocolVersionPublic
    # added by the delivery work (GET /studies/{id} only): what staff should fix, e.g. a site whose clinical
    # alerts can reach no clinician (core/recipients.py sends them to the coordinators instead)
    warnings: list[str] | None = None

    @classmethod
    def of(cls, view: StudyView) -> StudyPublic:
        study = view.study
        body: dict[str, Any] = {
            "id": study.id,
            "code": study.code,
            "name": study.name,
            "timezone": study.timezone,
            "blinded": study.blinded,
            "sites": [SitePublic.model_validate(s, from_attributes=True) for s in view.sites],
            "protocol": ProtocolVersionPublic.model_validate(view.protocol, from_attributes=True),
        }
        arms = [ArmPublic.model_validate(a, from_attributes=True) for a in view.arms or []]
        return blinded(cls, body, shows_allocation=view.arms is not None, arms=arms)


class StudyMembershipPublic(BaseModel):
    """A study the caller belongs to and their place in it (no arm information)."""

    id: uuid.UUID
    code: str
    name: str
    blinded: bool
    role: Role = Field(description="the caller's role in the study")
    site_codes: list[str] = Field(
        description="the caller's sites; empty: study-wide (or admin, or participant)"
    )

    @classmethod
    def of(cls, membership: Membership) -> StudyMembershipPublic:
        study = membership.study
        return cls(
            id=study.id,
            code=study.code,
            name=study.name,
            blinded=study.blinded,
            role=membership.role,
            site_codes=membership.site_codes,
        )


class StudyPage(Page[StudyMembershipPublic]):
    pass


class StaffCreate(_Body):
    email: SafeText = Field(min_length=3, max_length=320)
    password: SafeText = Field(min_length=1, max_length=128)
    role: StaffRole
    site_codes: list[SafeText] = Field(default_factory=list, description="empty: study-wide")


class StaffPublic(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    study_id: uuid.UUID
    site_codes: list[str]


class ConsentIn(_Body):
    given_by: ParticipantOrGuardian
    date: date
    form_version: SafeText = Field(min_length=1, max_length=40)


class EligibilityOverrideIn(_Body):
    criterion: Criterion
    reason: SafeText = Field(min_length=3, max_length=500)


class RandomisationSlotIn(_Body):
    site_code: SafeText = Field(min_length=1, max_length=40)
    stratum: SafeText = Field(default="", max_length=40, description="empty: the site's only stratum")
    sequence: int = Field(ge=1, le=1_000_000, description="the n-th enrolment of the site and stratum")
    arm_code: SafeText = Field(min_length=1, max_length=40)


class RandomisationUpload(_Body):
    slots: list[RandomisationSlotIn] = Field(min_length=1, max_length=10_000)


class SlotCountPublic(BaseModel):
    site_code: str
    stratum: str
    slots: int
    free: int


class RandomisationListPublic(BaseModel):
    """Slots per site and stratum, used and free (no arms: the list itself is never answered)."""

    counts: list[SlotCountPublic]


class ParticipantCreate(_Body):
    subject_code: str = Code
    site_code: SafeText = Field(min_length=1, max_length=40)
    arm_code: SafeText | None = Field(
        default=None,
        max_length=40,
        description="required when the protocol's allocation.method is named; left out when it is list",
    )
    stratum: SafeText | None = Field(
        default=None, min_length=1, max_length=40, description="allocation.method list: the list's stratum"
    )
    sex: Sex
    birth_date: date
    enrolled_at: AwareDatetime
    treatment_date: date
    timezone: SafeText = Field(min_length=1, max_length=64)
    weight_kg: float = Field(ge=2, le=300)
    diagnosis_date: date | None = None
    height_cm: float | None = Field(default=None, ge=40, le=250)
    consent: ConsentIn | None = None
    eligibility_override: EligibilityOverrideIn | None = None


class ParticipantPublic(BaseModel):
    """`arm_code` is absent for roles that may not see the allocation of a blinded study."""

    id: uuid.UUID
    study_id: uuid.UUID
    subject_code: str
    site_code: str
    arm_code: str | None = None
    sex: Sex
    birth_date: date
    enrolled_at: datetime
    treatment_date: date
    status: ParticipantStatus
    timezone: str
    has_login: bool
    open_alert_count: int | None = Field(
        default=None, description="unresolved alerts (open or acknowledged); in the participants list"
    )

    @classmethod
    def of(cls, view: ParticipantView) -> ParticipantPublic:
        p = view.participant
        # the participant's own fields of the answer (never its arm: that goes through `blinded` below)
        body: dict[str, Any] = p.model_dump(include=set(cls.model_fields) - {"arm_code"}, warnings=False)
        body |= {"site_code": view.site_code, "has_login": p.user_id is not None}
        if view.open_alert_count is not None:
            body["open_alert_count"] = view.open_alert_count
        return blinded(cls, body, shows_allocation=view.shows_allocation, arm_code=view.arm_code)


class ParticipantPagePublic(Page[ParticipantPublic]):
    """A page of participants, by subject code."""


class ParticipantUpdate(_Body):
    status: ParticipantStatus | None = None
    timezone: SafeText | None = Field(default=None, min_length=1, max_length=64)
    birth_date: date | None = Field(
        default=None, description="a corrected birth date (not after enrolment); the episodes follow it"
    )
    treatment_date: date | None = Field(
        default=None,
        description="a corrected day 0: visits still planned move with it; completed, missed and cancelled "
        "ones keep their dates; refused if after a completed visit",
    )
    reason: SafeText = Field(min_length=3, max_length=500, description="why (kept in the audit trail)")
