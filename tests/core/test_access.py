"""The one scoping rule: each role sees exactly its participants, and nothing else exists for it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import access
from core.access import Actor
from core.errors import Forbidden, NotFound
from core.models.people import Role
from core.models.study import GuardianLink, Participant
from tests import factories as f


async def _visible(session: AsyncSession, actor: Actor) -> set[uuid.UUID]:
    rows = await session.execute(select(Participant.id).where(access.participant_scope(actor)))
    return set(rows.scalars())


async def test_each_role_sees_exactly_its_participants(session: AsyncSession) -> None:
    study = await f.create_study(session)
    other_study = await f.create_study(session)
    child_a = await f.create_participant(session, study, site_code="S1")
    child_b = await f.create_participant(session, study, site_code="S1")
    at_site_2 = await f.create_participant(session, study, site_code="S2")
    elsewhere = await f.create_participant(session, other_study, site_code="S1")
    guardian_a = await f.create_guardian(session, child_a)
    clinician_s1 = await f.create_staff(session, study, Role.clinician, site_codes=("S1",))
    coordinator_all = await f.create_staff(session, study, Role.coordinator, site_codes=None)
    statistician = await f.create_staff(session, study, Role.statistician, site_codes=None)
    admin = await f.create_user(session, role=Role.admin)
    a_user = await f.participant_user(session, child_a)

    assert await _visible(session, Actor.of(a_user)) == {child_a.id}
    assert await _visible(session, Actor.of(guardian_a)) == {child_a.id}
    assert await _visible(session, Actor.of(clinician_s1)) == {child_a.id, child_b.id}
    assert await _visible(session, Actor.of(coordinator_all)) == {child_a.id, child_b.id, at_site_2.id}
    assert await _visible(session, Actor.of(statistician)) == {child_a.id, child_b.id, at_site_2.id}
    assert {child_a.id, child_b.id, at_site_2.id, elsewhere.id} <= await _visible(session, Actor.of(admin))


async def test_out_of_scope_and_missing_are_the_same_not_found(session: AsyncSession) -> None:
    study = await f.create_study(session)
    child_a = await f.create_participant(session, study)
    child_b = await f.create_participant(session, study)
    guardian_a = await f.create_guardian(session, child_a)
    actor = Actor.of(guardian_a)
    assert (
        await access.participant_in_scope(session=session, actor=actor, participant_id=child_a.id)
    ).id == child_a.id
    for missing in (child_b.id, uuid.uuid4()):
        with pytest.raises(NotFound) as raised:
            await access.participant_in_scope(session=session, actor=actor, participant_id=missing)
        assert raised.value.detail == "No such participant."


async def test_a_deactivated_guardian_link_ends_access(session: AsyncSession) -> None:
    study = await f.create_study(session)
    child = await f.create_participant(session, study)
    guardian = await f.create_guardian(session, child)
    link = (
        await session.execute(select(GuardianLink).where(col(GuardianLink.participant_id) == child.id))
    ).scalar_one()
    link.active = False
    await session.flush()
    assert await _visible(session, Actor.of(guardian)) == set()


async def test_statistician_reads_but_never_writes(session: AsyncSession) -> None:
    study = await f.create_study(session)
    child = await f.create_participant(session, study)
    statistician = await f.create_staff(session, study, Role.statistician, site_codes=None)
    actor = Actor.of(statistician)
    await access.participant_in_scope(session=session, actor=actor, participant_id=child.id)
    with pytest.raises(Forbidden):
        await access.participant_in_scope(session=session, actor=actor, participant_id=child.id, write=True)


async def test_blinding_hides_allocation_from_all_but_statistician_and_admin(session: AsyncSession) -> None:
    blinded = await f.create_study(session, blinded=True)
    open_label = await f.create_study(session, blinded=False)
    for role, blinded_sees, open_sees in [
        (Role.clinician, False, True),
        (Role.coordinator, False, True),
        (Role.statistician, True, True),
        (Role.admin, True, True),
        (Role.participant, False, False),
        (Role.guardian, False, False),
    ]:
        actor = Actor(user_id=uuid.uuid4(), role=role, email="x@example.org")
        assert access.sees_allocation(actor, blinded) is blinded_sees, role
        assert access.sees_allocation(actor, open_label) is open_sees, role
