"""Planning for participants enrolled before visits existed: `glucodiary visits plan` and its service."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from core.visits import service as visit_service
from tests.core.test_cli import _run
from tests.factories import create_participant, create_study


async def test_earlier_enrolments_get_their_plan_once(session: AsyncSession) -> None:
    study = await create_study(session)
    earlier = await create_participant(session, study)  # enrolled without the enrolment service's hook
    withdrawn = await create_participant(session, study, status="withdrawn")
    assert await visit_service.plan_unplanned(session=session) == 10
    assert len(await visit_service.visits_of(session=session, participant_id=earlier.id)) == 10
    assert await visit_service.visits_of(session=session, participant_id=withdrawn.id) == []
    assert await visit_service.plan_unplanned(session=session) == 0


def test_the_command_after_the_demo_plans_nothing_twice(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    assert _run(["demo"], tmp_path).returncode == 0
    planned = _run(["visits", "plan"], tmp_path)
    assert planned.returncode == 0, planned.stderr
    # the demo enrols through the enrolment service, which planned its participants' visits already
    assert planned.stdout.strip() == "0 visits planned"
