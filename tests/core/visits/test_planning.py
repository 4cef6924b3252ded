"""Planning for participants enrolled before visits existed (`glucodiary visits plan`, tested with the jobs' commands)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.visits import service as visit_service
from tests.factories import create_participant, create_study


async def test_earlier_enrolments_get_their_plan_once(session: AsyncSession) -> None:
    study = await create_study(session)
    earlier = await create_participant(session, study)  # enrolled without the enrolment service's hook
    withdrawn = await create_participant(session, study, status="withdrawn")
    assert await visit_service.plan_unplanned(session=session) == 10
    assert len(await visit_service.visits_of(session=session, participant_id=earlier.id)) == 10
    assert await visit_service.visits_of(session=session, participant_id=withdrawn.id) == []
    assert await visit_service.plan_unplanned(session=session) == 0
