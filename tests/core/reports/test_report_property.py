"""Property: the reports' SQL counts agree with a plain-Python count of the same definitions on drawn diaries.

Diaries are stored through the diary service (as a phone's would be), the reports are run in the database,
and each participant's episodes, levels, severe ones and readings below the thresholds are counted again in
plain Python and bucketed into the 3-month frames by hand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.access import Actor
from core.diary.batch import record_batch
from core.models.people import Role
from core.reports.service import Filters, build
from tests import factories as f
from tests.core.episodes.plain import plain_episodes, plain_level

DAY0 = date(2026, 1, 12)
T0 = datetime(2026, 1, 12, tzinfo=UTC)
NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)  # data cut 2026-08-02: every drawn day is inside it
FRAME_STARTS = (date(2026, 1, 12), date(2026, 4, 12), date(2026, 7, 12))


def frame_of(day: date) -> int:
    return sum(1 for start in FRAME_STARTS if day >= start)


mg = st.sampled_from([40, 53, 54, 55, 69, 70, 71, 95, 150]).map(lambda v: (float(v), "mg/dL"))
mmol = st.sampled_from([2.5, 2.9, 3.0, 3.1, 3.8, 3.9, 4.0, 5.5]).map(lambda v: (v, "mmol/L"))
# readings cluster on a few days so episodes form; minutes count from day 0 00:00 UTC
minute = st.builds(
    lambda day, m: day * 1440 + m, st.sampled_from([3, 40, 89, 90, 91, 150, 181, 199]), st.integers(360, 600)
)
diary = st.tuples(
    st.lists(st.tuples(minute, st.one_of(mg, mmol)), max_size=25, unique_by=lambda x: x[0]),
    st.lists(st.tuples(minute, st.booleans(), st.booleans()), max_size=4),
)


def _entries(readings: list, events: list) -> list[dict]:
    def at(m: int) -> str:
        return (T0 + timedelta(minutes=m)).isoformat()

    glucose = [
        {
            "id": str(uuid.uuid4()),
            "kind": "glucose",
            "occurred_at": at(m),
            "value": v,
            "unit": u,
            "context": "random",
        }
        for m, (v, u) in readings
    ]
    reports = [
        {
            "id": str(uuid.uuid4()),
            "kind": "hypo_event",
            "occurred_at": at(m),
            "symptoms": s,
            "needed_assistance": h,
            "treatment": ["oral_carbohydrate"],
            "unconscious_or_seizure": False,
        }
        for m, s, h in events
    ]
    return glucose + reports


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(diary, min_size=1, max_size=3))
async def test_report_counts_match_a_plain_count(session: AsyncSession, diaries: list) -> None:
    clock.set_now(NOW)
    attempt = await session.begin_nested()
    try:
        study = await f.create_study(session)
        statistician = await f.create_staff(session, study, Role.statistician, site_codes=None)
        admin = Actor.of(await f.create_user(session, role=Role.admin))
        expected_hypo: dict[tuple[str, int], tuple[int, int, int]] = {}
        expected_low: dict[tuple[str, int], tuple[int, int, int]] = {}
        for readings, events in diaries:
            participant = await f.create_participant(
                session, study, treatment_date=DAY0, birth_date=date(1985, 1, 1)
            )
            results = await record_batch(
                session=session, actor=admin, participant=participant, entries_in=_entries(readings, events)
            )
            assert all(r["status"] == "created" for r in results), results
            for frame in (1, 2, 3):
                expected_hypo[(participant.subject_code, frame)] = (0, 0, 0)
                expected_low[(participant.subject_code, frame)] = (0, 0, 0)
            for episode in plain_episodes(readings, events):
                key = (participant.subject_code, frame_of((T0 + timedelta(minutes=episode.start)).date()))
                n, level2, severe = expected_hypo[key]
                expected_hypo[key] = (n + 1, level2 + (episode.level == 2), severe + episode.severe)
            for m, (value, unit) in readings:
                key = (participant.subject_code, frame_of((T0 + timedelta(minutes=m)).date()))
                n, below1, below2 = expected_low[key]
                level = plain_level(value, unit)
                expected_low[key] = (n + 1, below1 + (level >= 1), below2 + (level == 2))
        actor = Actor.of(statistician)
        hypo = await build(
            session=session, actor=actor, study_id=study.id, report="hypoglycemia", filters=Filters()
        )
        found = {
            (r["subject_code"], r["frame"]): (r["episodes"], r["level_2"], r["severe"]) for r in hypo.rows
        }
        assert found == expected_hypo
        glyc = await build(
            session=session, actor=actor, study_id=study.id, report="glycemic-control", filters=Filters()
        )
        for row in glyc.rows:
            n, below1, below2 = expected_low[(row["subject_code"], row["frame"])]
            assert row["readings"] == n
            assert row["below_70_pct"] == (round(100 * below1 / n, 1) if n else None)
            assert row["below_54_pct"] == (round(100 * below2 / n, 1) if n else None)
    finally:
        await attempt.rollback()
        clock.set_now(None)
