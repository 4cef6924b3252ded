"""Who receives a message about a participant: the routing of every message category, stated once.

Clinical alerts go to the clinicians of the participant's site and the study-wide clinicians, or, where there
are none, to the study's coordinators (an alert must reach someone); dose-review suggestions to clinicians
only; operational messages to coordinators; participant-facing messages to the participant's own login and
every active guardian.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.models.outbox import MessageCategory
from core.models.people import Role, User
from core.models.study import GuardianLink, Participant, Site, StaffAssignment


async def staff_ids(
    *, session: AsyncSession, participant: Participant, role: Role, site_only: bool = True
) -> list[uuid.UUID]:
    """Active staff of `role` at the participant's site and study-wide (`site_only=False`: any site too)."""
    where_site = (
        or_(col(StaffAssignment.site_id) == participant.site_id, col(StaffAssignment.site_id).is_(None))
        if site_only
        else true()
    )
    result = await session.execute(
        select(StaffAssignment.user_id)
        .join(User, col(User.id) == col(StaffAssignment.user_id))
        .where(
            col(StaffAssignment.role) == role.value,
            col(StaffAssignment.study_id) == participant.study_id,
            col(User.active).is_(True),
            where_site,
        )
        .distinct()
    )
    return sorted(result.scalars())


async def participant_side_ids(*, session: AsyncSession, participant: Participant) -> list[uuid.UUID]:
    """The participant's own active login (if any) and every active guardian's."""
    guardians = await session.execute(
        select(GuardianLink.guardian_user_id)
        .join(User, col(User.id) == col(GuardianLink.guardian_user_id))
        .where(
            col(GuardianLink.participant_id) == participant.id,
            col(GuardianLink.active).is_(True),
            col(User.active).is_(True),
        )
    )
    ids = set(guardians.scalars())
    if participant.user_id is not None:
        own = await session.get(User, participant.user_id)
        if own is not None and own.active:
            ids.add(own.id)
    return sorted(ids)


async def for_category(
    *, session: AsyncSession, participant: Participant, category: MessageCategory
) -> list[uuid.UUID]:
    """The recipients of a message of `category` about `participant`."""
    if category is MessageCategory.alert:
        clinicians = await staff_ids(session=session, participant=participant, role=Role.clinician)
        if clinicians:
            return clinicians
        # no clinician at the site and none study-wide: the coordinators (site and study-wide, else any)
        return await _coordinators(session=session, participant=participant)
    if category is MessageCategory.dose_review:
        return await staff_ids(session=session, participant=participant, role=Role.clinician)
    if category is MessageCategory.operational:
        return await _coordinators(session=session, participant=participant)
    return await participant_side_ids(session=session, participant=participant)


async def _coordinators(*, session: AsyncSession, participant: Participant) -> list[uuid.UUID]:
    found = await staff_ids(session=session, participant=participant, role=Role.coordinator)
    if found:
        return found
    return await staff_ids(session=session, participant=participant, role=Role.coordinator, site_only=False)


async def sites_without_clinician(
    *, session: AsyncSession, study_id: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, str, str]]:
    """(study id, site code, site name) of every site with no clinician of its own and none study-wide: its
    clinical alerts fall back to coordinators (the start-up log and GET /studies/{id} warn about them)."""
    covering = (
        select(StaffAssignment.id)
        .join(User, col(User.id) == col(StaffAssignment.user_id))
        .where(
            col(StaffAssignment.role) == Role.clinician.value,
            col(StaffAssignment.study_id) == col(Site.study_id),
            or_(col(StaffAssignment.site_id) == col(Site.id), col(StaffAssignment.site_id).is_(None)),
            col(User.active).is_(True),
        )
        .exists()
    )
    query = select(Site.study_id, Site.code, Site.name).where(~covering).order_by(col(Site.code))
    if study_id is not None:
        query = query.where(col(Site.study_id) == study_id)
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]
