"""Routing of every message category (core/recipients.py), including a site without a clinician."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import recipients
from core.models.outbox import MessageCategory
from core.models.people import Role
from core.models.study import GuardianLink
from tests.factories import create_guardian, create_participant, create_staff, create_study, participant_user


async def test_each_category_reaches_its_people(session: AsyncSession) -> None:
    study = await create_study(session)
    child = await create_participant(session, study, site_code="S1")
    clinician = await create_staff(session, study, Role.clinician)
    coordinator = await create_staff(session, study, Role.coordinator)
    await create_staff(session, study, Role.clinician, site_codes=("S2",))  # another site's: never
    mother = await create_guardian(session, child)
    father = await create_guardian(session, child, relationship="father")
    link = await session.get(GuardianLink, await _link(session, father.id))
    assert link is not None
    link.active = False  # the father's link ended
    await session.flush()
    own = await participant_user(session, child)

    async def route(category: MessageCategory) -> set[object]:
        return set(await recipients.for_category(session=session, participant=child, category=category))

    assert await route(MessageCategory.alert) == {clinician.id}
    assert await route(MessageCategory.dose_review) == {clinician.id}
    assert await route(MessageCategory.operational) == {coordinator.id}
    # the participant and every ACTIVE guardian
    assert await route(MessageCategory.reminder) == {own.id, mother.id}
    assert await route(MessageCategory.own_alert) == {own.id, mother.id}


async def _link(session: AsyncSession, guardian_id: object) -> object:
    from sqlmodel import col, select

    return (
        await session.execute(
            select(GuardianLink.id).where(col(GuardianLink.guardian_user_id) == guardian_id)
        )
    ).scalar_one()


async def test_a_site_without_a_clinician_sends_alerts_to_coordinators_and_is_named(
    session: AsyncSession,
) -> None:
    study = await create_study(session, sites=("S1", "S2"))
    covered = await create_participant(session, study, site_code="S1")
    bare = await create_participant(session, study, site_code="S2")
    clinician = await create_staff(session, study, Role.clinician, site_codes=("S1",))
    site_coordinator = await create_staff(session, study, Role.coordinator, site_codes=("S2",))
    study_coordinator = await create_staff(session, study, Role.coordinator, site_codes=None)

    async def route(participant: object, category: MessageCategory) -> set[object]:
        return set(await recipients.for_category(session=session, participant=participant, category=category))  # type: ignore[arg-type]

    assert await route(covered, MessageCategory.alert) == {clinician.id}
    # issue 9: an alert at a site with no clinician reached nobody; now the study's coordinators get it
    assert await route(bare, MessageCategory.alert) == {site_coordinator.id, study_coordinator.id}
    # dose-review suggestions stay with clinicians: none here (the warning below says so)
    assert await route(bare, MessageCategory.dose_review) == set()
    uncovered = await recipients.sites_without_clinician(session=session, study_id=study.id)
    assert [(code, name) for _study, code, name in uncovered] == [("S2", "Site S2")]
    # a study-wide clinician covers every site
    await create_staff(session, study, Role.clinician, site_codes=None)
    assert await recipients.sites_without_clinician(session=session, study_id=study.id) == []
