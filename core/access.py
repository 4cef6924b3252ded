"""Who may see which participants: the single scoping function every read of participant data goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.errors import Forbidden, NotFound
from core.models.people import STAFF_ROLES, Role, User
from core.models.study import GuardianLink, Participant, StaffAssignment, Study


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the domain sees them."""

    user_id: uuid.UUID
    role: Role
    email: str

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user_id=user.id, role=Role(user.role), email=user.email)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


def participant_scope(actor: Actor) -> ColumnElement[bool]:
    """A SQL condition on `participant` that is true exactly for the participants `actor` may see.

    participant: themself; guardian: actively linked children; clinician and coordinator: participants at
    their sites (or the whole study for a study-level assignment); statistician: their studies; admin: all.
    """
    assigned = col(StaffAssignment.user_id) == actor.user_id
    match actor.role:
        case Role.admin:
            return true()
        case Role.participant:
            return col(Participant.user_id) == actor.user_id
        case Role.guardian:
            linked = select(GuardianLink.participant_id).where(
                col(GuardianLink.guardian_user_id) == actor.user_id, col(GuardianLink.active).is_(True)
            )
            return col(Participant.id).in_(linked)
        case Role.clinician | Role.coordinator:
            at_sites = select(StaffAssignment.site_id).where(
                assigned, col(StaffAssignment.site_id).is_not(None)
            )
            study_wide = select(StaffAssignment.study_id).where(
                assigned, col(StaffAssignment.site_id).is_(None)
            )
            return or_(col(Participant.site_id).in_(at_sites), col(Participant.study_id).in_(study_wide))
        case Role.statistician:
            return col(Participant.study_id).in_(select(StaffAssignment.study_id).where(assigned))
    return false()


def study_scope(actor: Actor) -> ColumnElement[bool]:
    """A SQL condition on `study`: the studies where `actor` holds a staff assignment (admin: all)."""
    if actor.role is Role.admin:
        return true()
    if not actor.is_staff:
        return false()
    return col(Study.id).in_(select(StaffAssignment.study_id).where(StaffAssignment.user_id == actor.user_id))


async def participant_in_scope(
    *, session: AsyncSession, actor: Actor, participant_id: uuid.UUID, write: bool = False
) -> Participant:
    """The participant if `actor` may see it (and, with `write`, change its diary); NotFound otherwise.

    Out of scope and non-existent answer alike, so nobody learns that a subject exists elsewhere.
    """
    result = await session.execute(
        select(Participant, Study.protocol_version)
        .join(Study, col(Study.id) == col(Participant.study_id))
        .where(and_(col(Participant.id) == participant_id, participant_scope(actor)))
    )
    found = result.one_or_none()
    if found is None:
        raise NotFound("No such participant.")
    participant, protocol_version = found
    remember_protocol_version(session, participant.study_id, protocol_version)
    if write and not may_write_diary(actor):
        raise Forbidden(f"A {actor.role.value} may read but not change diaries.")
    return participant


_PROTOCOL_VERSIONS = (
    "glucodiary.protocol_versions"  # session.info key: study id -> version read in this session
)


def remember_protocol_version(session: AsyncSession, study_id: uuid.UUID, version: int) -> None:
    """The study's protocol version as just read (with the participant) or set (a new protocol version).

    Every diary write needs it and the scoping query reads it for nothing more than a join: one round trip
    fewer per request (of five on a diary POST; bench/README.md). The session lives one request."""
    session.info.setdefault(_PROTOCOL_VERSIONS, {})[study_id] = version


def known_protocol_version(session: AsyncSession, study_id: uuid.UUID) -> int | None:
    version: int | None = session.info.get(_PROTOCOL_VERSIONS, {}).get(study_id)
    return version


def may_write_diary(actor: Actor) -> bool:
    # statisticians analyse; they never enter data
    return actor.role is not Role.statistician


def sees_allocation(actor: Actor, study: Study) -> bool:
    """Blinding: in a blinded study only statisticians and admins see arms or anything split by arm."""
    if actor.role in (Role.statistician, Role.admin):
        return True
    return not study.blinded and actor.is_staff


async def relationship_to(*, session: AsyncSession, actor: Actor, participant: Participant) -> str:
    """How the enterer relates to the subject, stored on every diary record: self, a guardian's link, a role."""
    if actor.role is Role.participant:
        return "self"
    if actor.role is Role.guardian:
        result = await session.execute(
            select(GuardianLink.relationship).where(
                col(GuardianLink.guardian_user_id) == actor.user_id,
                col(GuardianLink.participant_id) == participant.id,
                col(GuardianLink.active).is_(True),
            )
        )
        return result.scalar_one_or_none() or "guardian"
    return actor.role.value
