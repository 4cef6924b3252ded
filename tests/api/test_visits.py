"""Visits over HTTP: the plan at enrolment, who sees and records visits, results and derived values, corrections
as versions, missed and cancelled, withdrawal and re-planning (each audited)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.access import Actor
from core.models.auth import AuditEvent
from core.models.people import Role
from core.models.study import Participant
from core.models.visits import VisitVersion
from core.visits import service as visit_service
from tests.core.rules.diary_rows import new_row
from tests.factories import (
    auth_headers,
    create_guardian,
    create_participant,
    create_staff,
    create_study,
    participant_user,
)
from tests.urls import API


async def planned(session: AsyncSession, **overrides: Any) -> dict[str, Any]:
    """A study, a participant (day 0 = 12 January 2026, Ljubljana) with visits planned, and its staff."""
    study = await create_study(session)
    participant = await create_participant(session, study, height_cm=132.0, weight_kg=30.0, **overrides)
    await visit_service.plan_participant(session=session, participant=participant, actor=None, reason="test")
    return {
        "study": study,
        "participant": participant,
        "clinician": await create_staff(session, study, Role.clinician),
        "coordinator": await create_staff(session, study, Role.coordinator),
        "elsewhere": await create_staff(session, study, Role.clinician, site_codes=("S2",)),
    }


async def visits(client: httpx.AsyncClient, participant: Participant, user: Any) -> list[dict[str, Any]]:
    answer = await client.get(f"{API}/participants/{participant.id}/visits", headers=auth_headers(user))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def first_visit(
    session: AsyncSession, client: httpx.AsyncClient, now: datetime, reader: str = "clinician"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """planned() with the clock at `now`, and its first visit (M1) as `reader` lists it."""
    w = await planned(session)
    clock.set_now(now)
    return w, (await visits(client, w["participant"], w[reader]))[0]


async def complete(
    client: httpx.AsyncClient, visit: dict[str, Any], user: Any, completed_on: str, **results: Any
) -> httpx.Response:
    """Record `visit` (as the visit list gives it) completed on `completed_on` by `user`, with any results."""
    return await client.post(
        f"{API}/visits/{visit['id']}/complete",
        json={"completed_on": completed_on, **results},
        headers=auth_headers(user),
    )


async def the_event(session: AsyncSession, action: str) -> AuditEvent:
    """The one audit event recorded as `action`."""
    found = await session.execute(select(AuditEvent).where(col(AuditEvent.action) == action))
    return found.scalar_one()


async def test_enrolment_plans_the_protocols_visits(session: AsyncSession, client: httpx.AsyncClient) -> None:
    study = await create_study(session)
    coordinator = await create_staff(session, study, Role.coordinator)
    enrolled = await client.post(
        f"{API}/studies/{study.id}/participants",
        json={
            "subject_code": "V-001",
            "site_code": "S1",
            "arm_code": "A",  # a randomised study allocates at enrolment (allocation.method named)
            "sex": "male",
            "birth_date": "2015-03-02",
            "enrolled_at": "2026-01-20T09:00:00+01:00",
            "treatment_date": "2026-01-31",
            "timezone": "Europe/Ljubljana",
            "weight_kg": 30.5,
            "height_cm": 132,
            "diagnosis_date": "2026-01-12",
        },
        headers=auth_headers(coordinator),
    )
    assert enrolled.status_code == 201, enrolled.text
    participant = await session.get(Participant, uuid.UUID(enrolled.json()["id"]))
    items = await visits(client, participant, coordinator)  # type: ignore[arg-type]
    assert [(v["label"], v["target_date"]) for v in items][:3] == [
        ("M1", "2026-02-28"),
        ("M2", "2026-03-31"),
        ("M3", "2026-04-30"),
    ]
    assert len(items) == 10 and {v["status"] for v in items} == {"planned"}
    assert items[0]["window_start"] == "2026-02-21" and items[0]["window_end"] == "2026-03-07"
    assert items[0]["version"] == 1 and items[0]["outside_window"] is None


async def test_participant_guardian_and_staff_in_scope_see_the_visits(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await planned(session)
    guardian = await create_guardian(session, w["participant"])
    for user in (
        await participant_user(session, w["participant"]),
        guardian,
        w["clinician"],
        w["coordinator"],
    ):
        assert len(await visits(client, w["participant"], user)) == 10
    hidden = await client.get(
        f"{API}/participants/{w['participant'].id}/visits", headers=auth_headers(w["elsewhere"])
    )
    assert hidden.status_code == 404


async def test_complete_with_results_gives_the_derived_values(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 10, 0, tzinfo=UTC))
    p = w["participant"]
    # insulin on the three local days before 14 February: 16 IU on the 13th, 14 IU on the 12th, none on the 11th
    for day, units in ((13, 8), (13, 4), (13, 4), (12, 8), (12, 6)):
        await new_row(session, p, "insulin", datetime(2026, 2, day, 8, 0, tzinfo=UTC), units=units)
    done = await complete(
        client,
        m1,
        w["clinician"],
        "2026-02-14",
        hba1c_percent=7.0,
        c_peptide_fasting_ng_ml=1.2,
        c_peptide_stimulated_ng_ml=2.4,
        glucose_fasting_mg_dl=100,
        weight_kg=30,
    )
    assert done.status_code == 200, done.text
    visit = done.json()
    assert visit["status"] == "completed" and visit["outside_window"] is False and visit["version"] == 2
    # by hand: 10.93 x 7 - 23.5 = 53.0; 1.2 x 100 / 100 = 1.2; 30 / 1.32^2 = 17.2;
    # mean dose (16 + 14) / 2 days with data = 15 IU/day, / 30 kg = 0.5 IU/kg/day; IDAA1c 7.0 + 4 x 0.5 = 9.0
    assert visit["results"] == {
        "hba1c_percent": 7.0,
        "c_peptide_fasting_ng_ml": 1.2,
        "c_peptide_stimulated_ng_ml": 2.4,
        "glucose_fasting_mg_dl": 100.0,
        "weight_kg": 30.0,
        "hba1c_mmol_mol": 53.0,
        "cpgr": 1.2,
        "bmi": 17.2,
        "idaa1c": 9.0,
        "insulin_iu_per_day": 15.0,
        "insulin_iu_per_kg_day": 0.5,
    }


async def test_outside_the_window_is_flagged_and_bad_results_are_named(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 3, 1, 10, 0, tzinfo=UTC), "coordinator")
    # M1's window: 5-19 February
    wrong_unit = await complete(client, m1, w["coordinator"], "2026-02-25", hba1c_percent=53)
    assert wrong_unit.status_code == 422
    assert wrong_unit.json()["fields"] == [{"path": "hba1c_percent", "message": "53 is outside 3-20 %"}]
    future = await complete(client, m1, w["coordinator"], "2026-03-02")
    assert future.status_code == 422 and future.json()["fields"][0]["path"] == "completed_on"
    unknown = await complete(client, m1, w["coordinator"], "2026-02-25", hba1c_mmol_mol=53)
    assert unknown.status_code == 422 and unknown.json()["fields"][0]["path"] == "hba1c_mmol_mol"
    late = await complete(client, m1, w["coordinator"], "2026-02-25")
    assert late.status_code == 200 and late.json()["outside_window"] is True


async def test_completing_twice_needs_a_reason_and_keeps_the_first_version(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 10, 0, tzinfo=UTC))
    first = await complete(client, m1, w["clinician"], "2026-02-14", hba1c_percent=7.4)
    assert first.status_code == 200
    again = await complete(client, m1, w["clinician"], "2026-02-14", hba1c_percent=7.1)
    assert again.status_code == 409 and again.json()["fields"][0]["path"] == "reason"
    stale = await complete(
        client, m1, w["clinician"], "2026-02-14", hba1c_percent=7.1, reason="lab typo", version=1
    )
    assert stale.status_code == 409 and stale.json()["fields"][0]["path"] == "version"
    fixed = await complete(
        client, m1, w["clinician"], "2026-02-14", hba1c_percent=7.1, reason="lab typo", version=2
    )
    assert fixed.status_code == 200 and fixed.json()["version"] == 3
    assert fixed.json()["results"]["hba1c_percent"] == 7.1 and fixed.json()["reason"] == "lab typo"
    versions = (
        (
            await session.execute(
                select(VisitVersion)
                .where(col(VisitVersion.visit_id) == uuid.UUID(m1["id"]))
                .order_by(col(VisitVersion.version))
            )
        )
        .scalars()
        .all()
    )
    assert [(v.change, v.snapshot["results"].get("hba1c_percent")) for v in versions] == [
        ("planned", None),
        ("completed", 7.4),
        ("corrected", 7.1),
    ]
    actions = (
        (await session.execute(select(AuditEvent.action).where(col(AuditEvent.subject_id) == m1["id"])))
        .scalars()
        .all()
    )
    assert sorted(actions) == ["visit.completed", "visit.corrected"]


async def test_missed_and_cancelled_need_a_reason_and_follow_the_lifecycle(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await planned(session)
    clock.set_now(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    m1, m2 = (await visits(client, w["participant"], w["coordinator"]))[:2]
    headers = auth_headers(w["coordinator"])
    no_reason = await client.post(f"{API}/visits/{m1['id']}/missed", json={}, headers=headers)
    assert no_reason.status_code == 422 and no_reason.json()["fields"][0]["path"] == "reason"
    missed = await client.post(
        f"{API}/visits/{m1['id']}/missed", json={"reason": "family ill"}, headers=headers
    )
    assert missed.status_code == 200 and missed.json()["status"] == "missed"
    twice = await client.post(f"{API}/visits/{m1['id']}/missed", json={"reason": "again"}, headers=headers)
    assert twice.status_code == 409
    # the family came after all, outside the window
    late = await complete(client, m1, w["coordinator"], "2026-02-27")
    assert late.status_code == 200 and late.json()["outside_window"] is True
    cancelled = await client.post(
        f"{API}/visits/{m2['id']}/cancel", json={"reason": "moved abroad"}, headers=headers
    )
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["reason"] == "moved abroad"
    done = await complete(client, m2, w["coordinator"], "2026-02-27")
    assert done.status_code == 409


async def test_who_may_record_a_visit(session: AsyncSession, client: httpx.AsyncClient) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 10, 0, tzinfo=UTC))
    body = {"reason": "did not come"}
    participant = await participant_user(session, w["participant"])
    refused = await client.post(
        f"{API}/visits/{m1['id']}/missed", json=body, headers=auth_headers(participant)
    )
    assert refused.status_code == 403
    # a clinician of another site learns nothing: the visit does not exist for them
    elsewhere = await client.post(
        f"{API}/visits/{m1['id']}/missed", json=body, headers=auth_headers(w["elsewhere"])
    )
    assert elsewhere.status_code == 404


async def test_withdrawal_cancels_future_visits_with_the_withdrawal_as_reason(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 3, 20, 10, 0, tzinfo=UTC), "coordinator")
    await complete(client, m1, w["clinician"], "2026-02-12")
    withdrawn = await client.patch(
        f"{API}/participants/{w['participant'].id}",
        json={"status": "withdrawn", "reason": "consent withdrawn"},
        headers=auth_headers(w["coordinator"]),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    items = await visits(client, w["participant"], w["coordinator"])
    assert items[0]["status"] == "completed"
    # M2's window closed on 19 March without a result: it stays for staff to record as missed
    assert items[1]["label"] == "M2" and items[1]["status"] == "planned"
    assert {v["status"] for v in items[2:]} == {"cancelled"}
    assert items[2]["reason"] == "participant withdrawn: consent withdrawn"


async def test_a_new_protocol_moves_only_planned_visits_and_says_so(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 10, 0, tzinfo=UTC))
    await complete(client, m1, w["clinician"], "2026-02-14")
    admin = await create_staff(session, w["study"], Role.admin, site_codes=None)
    changed = await client.post(
        f"{API}/studies/{w['study'].id}/protocol/versions",
        json={"protocol": {"visits": {"months": [1, 3, 6, 12], "window_days": 10}}},
        headers=auth_headers(admin),
    )
    assert changed.status_code == 201, changed.text
    items = {v["label"]: v for v in await visits(client, w["participant"], w["clinician"])}
    assert items["M1"]["status"] == "completed" and items["M1"]["window_end"] == "2026-02-19"  # untouched
    assert (items["M3"]["window_start"], items["M3"]["window_end"]) == ("2026-04-02", "2026-04-22")
    assert items["M3"]["protocol_version"] == 2 and items["M3"]["version"] == 2
    assert items["M2"]["status"] == "cancelled" and "protocol version 2" in items["M2"]["reason"]
    assert items["M24"]["status"] == "cancelled"
    event = await the_event(session, "visits.replanned")
    assert event.after is not None and event.after["reason"] == "protocol version 2"
    assert {
        "label": "M3",
        "from": "2026-04-12 (2026-04-05 to 2026-04-19)",
        "to": "2026-04-12 (2026-04-02 to 2026-04-22)",
    } in event.after["moved"]
    assert "M1" not in {m["label"] for m in event.after["moved"]}


async def test_a_corrected_day_0_moves_only_visits_still_planned(session: AsyncSession) -> None:
    w = await planned(session)
    p = w["participant"]
    actor = Actor.of(w["coordinator"])
    first = (await visit_service.visits_of(session=session, participant_id=p.id))[0]
    first.status = "missed"
    p.treatment_date = date(2026, 1, 31)
    changed = await visit_service.plan_participant(
        session=session, participant=p, actor=actor, reason="treatment date corrected"
    )
    after = {v.label: v for v in await visit_service.visits_of(session=session, participant_id=p.id)}
    assert changed == 9
    assert after["M1"].target_date == date(2026, 2, 12)  # missed: kept where it was
    assert after["M2"].target_date == date(2026, 3, 31) and after["M3"].target_date == date(2026, 4, 30)
    event = await the_event(session, "visits.replanned")
    assert event.after is not None and event.after["reason"] == "treatment date corrected"
    assert {
        "label": "M2",
        "from": "2026-03-12 (2026-03-05 to 2026-03-19)",
        "to": "2026-03-31 (2026-03-24 to 2026-04-07)",
    } in event.after["moved"]


async def test_the_study_calendar_filters_and_pages_within_the_callers_sites(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await planned(session)
    other = await create_participant(session, w["study"], site_code="S2")
    await visit_service.plan_participant(session=session, participant=other, actor=None, reason="test")
    url = f"{API}/studies/{w['study'].id}/visits"
    clinician = auth_headers(w["clinician"])
    window = {"from": "2026-02-01", "to": "2026-06-30"}
    first = await client.get(url, params={"limit": 2, **window}, headers=clinician)
    assert first.status_code == 200, first.text
    page = first.json()
    # S1's M1 (12 Feb), M2 (12 Mar), then M3 (12 Apr) on the next page; the S2 participant is not this clinician's
    assert [(v["label"], v["target_date"], v["site_code"]) for v in page["items"]] == [
        ("M1", "2026-02-12", "S1"),
        ("M2", "2026-03-12", "S1"),
    ]
    assert (
        page["items"][0]["subject_code"] == w["participant"].subject_code
        and "arm_code" not in page["items"][0]
    )
    rest = await client.get(
        url, params={"limit": 2, "cursor": page["next_cursor"], **window}, headers=clinician
    )
    assert [v["label"] for v in rest.json()["items"]] == ["M3"] and rest.json()["next_cursor"] is None
    coordinator = auth_headers(await create_staff(session, w["study"], Role.coordinator, site_codes=None))
    s2 = await client.get(url, params={"site": "S2", "status": "planned"}, headers=coordinator)
    assert {v["site_code"] for v in s2.json()["items"]} == {"S2"} and len(s2.json()["items"]) == 10
    unknown = await client.get(url, params={"site": "S9"}, headers=coordinator)
    assert unknown.status_code == 422 and unknown.json()["fields"][0]["path"] == "site"
    backwards = await client.get(url, params={"from": "2026-05-01", "to": "2026-04-01"}, headers=coordinator)
    assert backwards.status_code == 422 and backwards.json()["fields"][0]["path"] == "to"
    bad_status = await client.get(url, params={"status": "done"}, headers=coordinator)
    assert bad_status.status_code == 422


async def test_idaa1c_uses_the_latest_weight_the_diary_logged(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 10, 0, tzinfo=UTC))  # 30 kg at enrolment
    p = w["participant"]
    await new_row(session, p, "weight", datetime(2026, 2, 10, 7, 0, tzinfo=UTC), kg=40.0)
    await new_row(session, p, "insulin", datetime(2026, 2, 13, 8, 0, tzinfo=UTC), units=20)
    done = await complete(client, m1, w["clinician"], "2026-02-14", hba1c_percent=7.0)
    # 20 IU on the one day with doses / 40 kg (the diary's, newer than enrolment's 30) = 0.5; 7.0 + 4 x 0.5 = 9.0
    assert done.json()["results"]["idaa1c"] == 9.0 and done.json()["results"]["insulin_iu_per_kg_day"] == 0.5
    # no height in the results and the enrolment height (132 cm) with no weight given: BMI from the 40 kg
    assert done.json()["results"]["bmi"] == round(40 / 1.32**2, 1) == 23.0


async def test_a_coordinator_corrects_day_0_over_http_and_only_planned_visits_move(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await planned(session)  # day 0 = 12 January 2026: M1 12 Feb, M2 12 Mar, M3 12 Apr, ...
    p = w["participant"]
    clock.set_now(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    m2 = next(v for v in await visits(client, p, w["clinician"]) if v["label"] == "M2")
    done = await complete(client, m2, w["clinician"], "2026-03-12", hba1c_percent=7.1)
    assert done.status_code == 200, done.text
    url = f"{API}/participants/{p.id}"
    corrected = await client.patch(
        url,
        json={"treatment_date": "2026-01-31", "reason": "day 0 was mistyped at enrolment"},
        headers=auth_headers(w["coordinator"]),
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["treatment_date"] == "2026-01-31"
    after = {v["label"]: v for v in await visits(client, p, w["clinician"])}
    # 31 January + n months, a day the month lacks falling on its last day (2026 is not a leap year):
    # M1 28 Feb, M3 30 Apr, M6 31 Jul, M12 31 Jan 2027, M15 30 Apr 2027, M24 31 Jan 2028; windows +-7 days
    assert {label: after[label]["target_date"] for label in ("M1", "M3", "M6", "M12", "M15", "M24")} == {
        "M1": "2026-02-28",
        "M3": "2026-04-30",
        "M6": "2026-07-31",
        "M12": "2027-01-31",
        "M15": "2027-04-30",
        "M24": "2028-01-31",
    }
    assert (after["M1"]["window_start"], after["M1"]["window_end"]) == ("2026-02-21", "2026-03-07")
    assert (after["M1"]["status"], after["M1"]["version"]) == ("planned", 2)
    # the completed visit keeps its date, its window and its version
    assert (after["M2"]["status"], after["M2"]["target_date"], after["M2"]["window_end"]) == (
        "completed",
        "2026-03-12",
        "2026-03-19",
    )
    assert after["M2"]["version"] == m2["version"] + 1  # the completion only, no re-plan on top
    replanned = await the_event(session, "visits.replanned")
    assert replanned.actor_id == w["coordinator"].id
    assert replanned.before == {"treatment_date": "2026-01-12"}
    assert replanned.after is not None and replanned.after["treatment_date"] == "2026-01-31"
    assert {
        "label": "M1",
        "from": "2026-02-12 (2026-02-05 to 2026-02-19)",
        "to": "2026-02-28 (2026-02-21 to 2026-03-07)",
    } in replanned.after["moved"]
    assert len(replanned.after["moved"]) == 9 and "M2" not in {m["label"] for m in replanned.after["moved"]}
    assert "day 0 was mistyped at enrolment" in replanned.after["reason"]
    changed = await the_event(session, "participant.changed")
    assert changed.actor_id == w["coordinator"].id
    assert changed.before is not None and changed.before["treatment_date"] == "2026-01-12"
    assert changed.after is not None
    assert (changed.after["treatment_date"], changed.after["visits_changed"]) == ("2026-01-31", 9)


async def test_day_0_after_a_completed_visit_is_refused_naming_the_visit(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w, m1 = await first_visit(session, client, datetime(2026, 2, 15, 9, 0, tzinfo=UTC))
    p = w["participant"]
    await complete(client, m1, w["clinician"], "2026-02-14")
    late = await client.patch(
        f"{API}/participants/{p.id}",
        json={"treatment_date": "2026-02-20", "reason": "treatment started later"},
        headers=auth_headers(w["coordinator"]),
    )
    assert late.status_code == 422
    assert late.json()["fields"] == [
        {"path": "treatment_date", "message": "2026-02-20 is after M1 completed on 2026-02-14"}
    ]
    not_a_date = await client.patch(
        f"{API}/participants/{p.id}",
        json={"treatment_date": "2026-02-30", "reason": "typo"},
        headers=auth_headers(w["coordinator"]),
    )
    assert not_a_date.status_code == 422 and not_a_date.json()["fields"][0]["path"] == "treatment_date"
    assert [v["target_date"] for v in await visits(client, p, w["clinician"])][1] == "2026-03-12"


async def test_only_coordinators_in_scope_may_correct_day_0(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await planned(session)
    p = w["participant"]
    body = {"treatment_date": "2026-01-20", "reason": "corrected from the pharmacy record"}
    url = f"{API}/participants/{p.id}"
    elsewhere = await create_staff(session, w["study"], Role.coordinator, site_codes=("S2",))
    assert (await client.patch(url, json=body, headers=auth_headers(elsewhere))).status_code == 404
    for refused in (w["clinician"], await participant_user(session, p), await create_guardian(session, p)):
        assert (await client.patch(url, json=body, headers=auth_headers(refused))).status_code == 403
    assert (await client.patch(url, json=body)).status_code == 401
    assert (await visits(client, p, w["clinician"]))[0]["target_date"] == "2026-02-12"
    study_wide = await create_staff(session, w["study"], Role.coordinator, site_codes=None)
    moved = await client.patch(url, json=body, headers=auth_headers(study_wide))
    assert moved.status_code == 200, moved.text
    assert (await visits(client, p, w["clinician"]))[0]["target_date"] == "2026-02-20"
