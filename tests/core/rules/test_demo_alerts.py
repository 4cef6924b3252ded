"""The demo ends with a realistic inbox: recent alerts open, older ones reviewed, dose-review suggestions open."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.demo import diary as demo_diary
from core.demo import load_people
from core.demo.alerts import review_alerts
from core.models.alerts import Alert
from core.models.outbox import OutboxMessage


async def test_the_demo_inbox(session: AsyncSession) -> None:
    people = await load_people(session=session)
    await demo_diary.load_diary(session=session, people=people)
    counts = await review_alerts(session=session, people=people)
    alerts = list((await session.execute(select(Alert))).scalars())
    by_status = Counter((a.category, a.status) for a in alerts)
    assert by_status[("safety", "open")] >= 1
    assert by_status[("dose_review", "open")] >= 1
    assert counts["resolved"] >= 1 and counts["open"] == sum(a.status != "resolved" for a in alerts)
    # the level 3 night-time event of the 7-year-old (glucagon given) was raised as critical
    assert any(a.kind == "severe_hypoglycemia" and a.severity == "critical" for a in alerts)
    # the teenager's stomach bug with ketones 1.8 mmol/L was urgent
    assert any(a.kind == "ketones_high" and a.severity == "urgent" for a in alerts)
    decided = [a for a in alerts if a.decision is not None]
    assert len(decided) == 1 and decided[0].category == "dose_review"
    messages = list((await session.execute(select(OutboxMessage))).scalars())
    assert messages and all("arm" not in m.payload for m in messages)
