"""A small hand-worked cohort for the report tests; every expected figure is worked out in test_reports.py.

Clock: 2026-08-01 14:00 in Ljubljana, so the data cut is 2026-08-02 (the end of today, exclusive).
- P1 (site S1, arm A, mg/dL), day 0 2026-01-12. Frames: 1 = 01-12..04-11, 2 = 04-12..07-11, 3 = 07-12..10-11
  (cut at 08-02).
  frame 1: 03-02 07:00 62, 07:15 66 (re-check), 07:40 95, symptoms at 07:05 -> one documented symptomatic L1;
  03-10 07:00 45 fasting -> asymptomatic L2; 02-01 symptoms linked to an 85 -> pseudo-hypoglycemia; fasting
  100 (02-02) and 120 (02-03); postprandial 150 and 130 (02-02) with no meal logged.
  frame 2: 05-01 an event that needed another adult's help, nothing measured -> severe, level 3.
  frame 3: nothing.
- P2 (site S1, arm B, mmol/L), day 0 2026-02-01, withdrawn 2026-03-15: frame 1 only, 02-01..03-14.
  02-10 2.9 (L2, asymptomatic), 02-11 fasting 5.0, 02-12 fasting 6.5; 03-20 3.2 after the withdrawal (ignored).
- P3 (site S2, arm A), day 0 2026-06-01: frame 1 with no readings at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models.people import Role, User
from core.models.study import Participant, Study
from tests import factories as f
from tests.factories import entries_path, entry_body

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


@dataclass
class Cohort:
    study: Study
    p1: Participant
    p2: Participant
    p3: Participant
    users: dict[str, User]


def g(at: str, value: float, unit: str = "mg/dL", context: str = "random") -> dict:
    return entry_body(occurred_at=at, value=value, unit=unit, context=context)


async def build_cohort(client: httpx.AsyncClient, session: AsyncSession) -> Cohort:
    clock.set_now(NOW)
    study = await f.create_study(session)
    p1 = await f.create_participant(
        session, study, site_code="S1", arm_code="A", treatment_date=date(2026, 1, 12)
    )
    p2 = await f.create_participant(
        session,
        study,
        site_code="S1",
        arm_code="B",
        treatment_date=date(2026, 2, 1),
        enrolled_at=datetime(2026, 1, 20, 9, 0, tzinfo=UTC),
    )
    p3 = await f.create_participant(
        session,
        study,
        site_code="S2",
        arm_code="A",
        treatment_date=date(2026, 6, 1),
        enrolled_at=datetime(2026, 5, 20, 9, 0, tzinfo=UTC),
    )
    users = {
        "statistician": await f.create_staff(session, study, Role.statistician, site_codes=None),
        "coordinator": await f.create_staff(session, study, Role.coordinator, site_codes=("S1",)),
        "clinician_s2": await f.create_staff(session, study, Role.clinician, site_codes=("S2",)),
        "admin": await f.create_user(session, role=Role.admin),
        "participant": await f.participant_user(session, p1),
        "guardian": await f.create_guardian(session, p1),
    }
    staff = f.auth_headers(users["coordinator"])
    pseudo_reading = g("2026-02-01T10:00:00+01:00", 85)
    p1_entries = [
        g("2026-03-02T07:00:00+01:00", 62),
        g("2026-03-02T07:15:00+01:00", 66),
        g("2026-03-02T07:40:00+01:00", 95),
        entry_body("hypo_event", occurred_at="2026-03-02T07:05:00+01:00"),
        g("2026-03-10T07:00:00+01:00", 45, context="fasting"),
        pseudo_reading,
        entry_body(
            "hypo_event", occurred_at="2026-02-01T10:01:00+01:00", glucose_entry_id=pseudo_reading["id"]
        ),
        g("2026-02-02T07:00:00+01:00", 100, context="fasting"),
        g("2026-02-03T07:00:00+01:00", 120, context="fasting"),
        g("2026-02-02T13:30:00+01:00", 150, context="postprandial"),
        g("2026-02-02T19:30:00+01:00", 130, context="postprandial"),
        entry_body(
            "hypo_event",
            occurred_at="2026-05-01T15:00:00+02:00",
            needed_assistance=True,
            treatment=["oral_carbohydrate"],
        ),
    ]
    p2_entries = [
        g("2026-02-10T07:00:00+01:00", 2.9, "mmol/L"),
        g("2026-02-11T07:00:00+01:00", 5.0, "mmol/L", "fasting"),
        g("2026-02-12T07:00:00+01:00", 6.5, "mmol/L", "fasting"),
        g("2026-03-20T07:00:00+01:00", 3.2, "mmol/L"),
    ]
    for participant, entries in ((p1, p1_entries), (p2, p2_entries)):
        answer = await client.post(
            f"{entries_path(participant)}/batch", json={"entries": entries}, headers=staff
        )
        assert answer.status_code == 200, answer.text
        assert all(r["status"] == "created" for r in answer.json()["results"]), answer.text
    p2.status = "withdrawn"
    p2.withdrawn_at = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    session.add(p2)
    await session.flush()
    return Cohort(study, p1, p2, p3, users)
