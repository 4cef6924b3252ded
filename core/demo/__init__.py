"""The demo data a newcomer sees after `make run`: the blinded MSCT1DM study, its people, and their logins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.demo import alerts as demo_alerts
from core.demo import diary as demo_diary
from core.demo.people import LOGINS, DemoLogin, DemoPeople, demo_present, load_people

__all__ = ["LOGINS", "DemoLogin", "DemoPeople", "load_demo", "load_people"]


async def load_demo(*, session: AsyncSession) -> tuple[bool, list[DemoLogin]]:
    """Create the demo data unless it is there already; returns (created, logins). Printing is the CLI's job."""
    if await demo_present(session=session):
        return False, LOGINS
    people = await load_people(session=session)
    await demo_diary.load_diary(session=session, people=people)
    await demo_alerts.review_alerts(session=session, people=people)
    return True, LOGINS
