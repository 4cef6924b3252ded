"""The alert inbox over HTTP: scope, filters, pages, lifecycle, dose-review decisions, audit and blinding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.models.auth import AuditEvent
from core.models.people import Role
from tests.core.rules.diary_rows import create_alert
from tests.factories import (
    auth_headers,
    create_guardian,
    create_participant,
    create_staff,
    create_study,
    entries_path,
    entry_body,
    participant_user,
)
from tests.urls import API

ALERTS = f"{API}/alerts"
ARM_KEYS = {"arm", "arm_id", "arm_code", "arms"}


def arm_keys(document: Any) -> set[str]:
    if isinstance(document, dict):
        found = ARM_KEYS & set(document)
        for value in document.values():
            found |= arm_keys(value)
        return found
    if isinstance(document, list):
        return set().union(*(arm_keys(v) for v in document)) if document else set()
    return set()


async def setting(session: AsyncSession) -> dict[str, Any]:
    study = await create_study(session)
    s1 = await create_participant(session, study, site_code="S1")
    s2 = await create_participant(session, study, site_code="S2")
    return {
        "study": study,
        "s1": s1,
        "s2": s2,
        "clinician": await create_staff(session, study, Role.clinician),
        "coordinator": await create_staff(session, study, Role.coordinator, site_codes=None),
        "s2_clinician": await create_staff(session, study, Role.clinician, site_codes=("S2",)),
    }


async def test_clinicians_see_only_their_sites_alerts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await setting(session)
    mine = await create_alert(session, w["s1"])
    theirs = await create_alert(
        session, w["s2"], kind="hypoglycemia_level_2", category="safety", severity="urgent"
    )
    other_study = await create_study(session)
    await create_alert(session, await create_participant(session, other_study))

    async def ids(user: Any, **params: str) -> list[str]:
        response = await client.get(ALERTS, params=params, headers=auth_headers(user))
        assert response.status_code == 200, response.text
        assert arm_keys(response.json()) == set()
        return [a["id"] for a in response.json()["items"]]

    assert await ids(w["clinician"]) == [str(mine.id)]
    assert await ids(w["s2_clinician"]) == [str(theirs.id)]
    assert sorted(await ids(w["coordinator"])) == sorted([str(mine.id), str(theirs.id)])
    # naming another site's participant does not widen the scope
    assert await ids(w["clinician"], participant_id=str(w["s2"].id)) == []


async def test_the_participant_side_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    w = await setting(session)
    guardian = await create_guardian(session, w["s1"])
    for user in (await participant_user(session, w["s1"]), guardian):
        assert (await client.get(ALERTS, headers=auth_headers(user))).status_code == 403
    assert (await client.get(ALERTS)).status_code == 401


async def test_the_statistician_reads_alerts_blinded_but_never_acts_on_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # README: a statistician may read what a coordinator reads; acting on an alert is a clinician's job
    w = await setting(session)
    statistician = await create_staff(session, w["study"], Role.statistician, site_codes=None)
    alerts = [await create_alert(session, w["s1"]), await create_alert(session, w["s2"])]
    other_study = await create_study(session)
    await create_alert(session, await create_participant(session, other_study))
    alert_id = alerts[0].id
    headers = auth_headers(statistician)
    inbox = await client.get(ALERTS, headers=headers)
    assert inbox.status_code == 200, inbox.text
    assert sorted(a["id"] for a in inbox.json()["items"]) == sorted(str(a.id) for a in alerts)
    assert arm_keys(inbox.json()) == set()
    for path, body in (
        ("acknowledge", None),
        ("resolve", {"note": "x"}),
        ("decision", {"decision": "no_change", "note": "x"}),
    ):
        acted = await client.post(f"{ALERTS}/{alert_id}/{path}", json=body, headers=headers)
        assert acted.status_code == 403, (path, acted.text)


async def test_filters_and_pages(client: httpx.AsyncClient, session: AsyncSession) -> None:
    w = await setting(session)
    made = [await create_alert(session, w["s1"]) for _ in range(3)]
    low = await create_alert(
        session, w["s1"], kind="hypoglycemia_level_1", category="safety", severity="warning"
    )
    done = await create_alert(session, w["s1"], status="resolved")
    headers = auth_headers(w["clinician"])
    by_kind = (await client.get(ALERTS, params={"kind": "hypoglycemia_level_1"}, headers=headers)).json()
    assert [a["id"] for a in by_kind["items"]] == [str(low.id)]
    safety = (await client.get(ALERTS, params={"category": "safety"}, headers=headers)).json()
    assert [a["id"] for a in safety["items"]] == [str(low.id)]
    resolved = (await client.get(ALERTS, params={"status": "resolved"}, headers=headers)).json()
    assert [a["id"] for a in resolved["items"]] == [str(done.id)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"status": "open", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(ALERTS, params=params, headers=headers)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(a.id) for a in [*made, low])
    bad = await client.get(ALERTS, params={"status": "closed"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"].endswith("status")


async def test_the_inbox_lists_open_first_then_by_severity_then_newest_across_pages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # before: by creation time only, so an old resolved alert came before a new open one
    w = await setting(session)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    async def made(name: str, hours: int, severity: str, status: str = "open") -> tuple[str, str]:
        at = start + timedelta(hours=hours)
        alert = await create_alert(
            session,
            w["s1"],
            kind="hypoglycemia_level_1",
            category="safety",
            severity=severity,
            status=status,
            created_at=at,
            first_occurred_at=at,
            last_occurred_at=at,
        )
        return name, str(alert.id)

    made_alerts = dict(
        [
            await made("resolved critical, newest of all", 9, "critical", "resolved"),
            await made("open info, new", 8, "info"),
            await made("acknowledged critical", 7, "critical", "acknowledged"),
            await made("open warning, newer", 6, "warning"),
            await made("open critical, old", 1, "critical"),
            await made("open warning, older", 2, "warning"),
            await made("open urgent", 3, "urgent"),
            await made("resolved info", 4, "info", "resolved"),
            await made("acknowledged warning", 5, "warning", "acknowledged"),
        ]
    )
    expected = [
        "open critical, old",
        "open urgent",
        "open warning, newer",
        "open warning, older",
        "open info, new",
        "acknowledged critical",
        "acknowledged warning",
        "resolved critical, newest of all",
        "resolved info",
    ]
    seen: list[str] = []
    cursor = None
    while True:  # pages of 2 must keep this order across every page boundary
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get(ALERTS, params=params, headers=auth_headers(w["clinician"]))
        assert page.status_code == 200, page.text
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    names = {alert_id: name for name, alert_id in made_alerts.items()}
    assert [names[i] for i in seen] == expected


async def test_severity_and_site_filter(client: httpx.AsyncClient, session: AsyncSession) -> None:
    w = await setting(session)
    severe = await create_alert(
        session, w["s1"], kind="severe_hypoglycemia", category="safety", severity="critical"
    )
    await create_alert(session, w["s1"], kind="hypoglycemia_level_1", category="safety", severity="warning")
    at_s2 = await create_alert(session, w["s2"], kind="ketones_high", category="safety", severity="critical")
    headers = auth_headers(w["coordinator"])

    async def ids(**params: str) -> list[str]:
        answer = await client.get(ALERTS, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return sorted(a["id"] for a in answer.json()["items"])

    assert await ids(severity="critical") == sorted([str(severe.id), str(at_s2.id)])
    assert await ids(severity="critical", site_id=str(w["s2"].site_id)) == [str(at_s2.id)]
    assert await ids(severity="urgent") == []
    bad = await client.get(ALERTS, params={"severity": "high"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"].endswith("severity")


async def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # before, ?severty=critical (a typo) answered every alert as if unfiltered
    w = await setting(session)
    answer = await client.get(ALERTS, params={"severty": "critical"}, headers=auth_headers(w["clinician"]))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["fields"][0]["path"] == "severty"
    assert "severity" in body["fields"][0]["message"]  # the allowed names are listed


async def test_acknowledge_then_resolve(client: httpx.AsyncClient, session: AsyncSession) -> None:
    w = await setting(session)
    alert = await create_alert(
        session, w["s1"], kind="hypoglycemia_level_2", category="safety", severity="urgent"
    )
    # a refused request rolls the shared test session back, expiring loaded rows: keep plain ids
    alert_id, clinician_id = alert.id, w["clinician"].id
    headers = auth_headers(w["clinician"])
    acked = await client.post(f"{ALERTS}/{alert_id}/acknowledge", headers=headers)
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert (body["status"], body["acknowledged_by"]) == ("acknowledged", str(clinician_id))
    assert arm_keys(body) == set()
    missing_note = await client.post(f"{ALERTS}/{alert_id}/resolve", json={"note": ""}, headers=headers)
    assert missing_note.status_code == 422
    resolved = await client.post(
        f"{ALERTS}/{alert_id}/resolve", json={"note": "Juice taken, 98 at recheck."}, headers=headers
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == (
        "resolved",
        "Juice taken, 98 at recheck.",
    )
    assert (await client.post(f"{ALERTS}/{alert_id}/acknowledge", headers=headers)).status_code == 409
    assert (
        await client.post(f"{ALERTS}/{alert_id}/resolve", json={"note": "again"}, headers=headers)
    ).status_code == 409
    actions = (
        (await session.execute(select(AuditEvent.action).where(col(AuditEvent.subject_id) == str(alert_id))))
        .scalars()
        .all()
    )
    assert sorted(actions) == ["alert.acknowledged", "alert.resolved"]


async def test_out_of_scope_or_unknown_alerts_answer_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await setting(session)
    elsewhere = (await create_alert(session, w["s2"])).id
    headers, coordinator = auth_headers(w["clinician"]), auth_headers(w["coordinator"])
    for path, body in (
        ("acknowledge", None),
        ("resolve", {"note": "x"}),
        ("decision", {"decision": "no_change", "note": "x"}),
    ):
        for alert_id in (elsewhere, uuid.uuid4()):
            response = await client.post(f"{ALERTS}/{alert_id}/{path}", json=body, headers=headers)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["error"] == "not_found"
    assert (await client.post(f"{ALERTS}/{elsewhere}/acknowledge", headers=coordinator)).status_code == 403


async def test_dose_review_decision_is_recorded_audited_and_only_for_suggestions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await setting(session)
    review = (await create_alert(session, w["s1"])).id
    safety = (
        await create_alert(
            session, w["s1"], kind="hypoglycemia_level_1", category="safety", severity="warning"
        )
    ).id
    clinician_id = w["clinician"].id
    headers = auth_headers(w["clinician"])
    decision = {"decision": "increase", "note": "Basal +1 IU discussed at the visit."}
    refused = await client.post(f"{ALERTS}/{safety}/decision", json=decision, headers=headers)
    assert refused.status_code == 409
    bad = await client.post(
        f"{ALERTS}/{review}/decision", json={"decision": "double", "note": "x"}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "decision"
    done = await client.post(f"{ALERTS}/{review}/decision", json=decision, headers=headers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["decision"], body["decision_note"], body["decided_by"], body["status"]) == (
        "increase",
        "Basal +1 IU discussed at the visit.",
        str(clinician_id),
        "resolved",
    )
    assert arm_keys(body) == set()
    again = await client.post(f"{ALERTS}/{review}/decision", json=decision, headers=headers)
    assert again.status_code == 409
    [event] = (
        (
            await session.execute(
                select(AuditEvent).where(col(AuditEvent.action) == "alert.dose_review_decided")
            )
        )
        .scalars()
        .all()
    )
    assert (
        event.actor_id == clinician_id and event.after is not None and event.after["decision"] == "increase"
    )


async def test_a_low_reading_posted_by_the_participant_reaches_the_clinician(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await setting(session)
    phone = auth_headers(await participant_user(session, w["s1"]))
    posted = await client.post(
        entries_path(w["s1"]),
        json=entry_body("glucose", value=2.9, unit="mmol/L", context="random"),
        headers=phone,
    )
    assert posted.status_code == 201, posted.text
    entry = posted.json()
    assert entry["flags"] == ["hypoglycemia_level_2"]
    assert len(entry["alerts"]) == 2  # the level 2 alert and the reduction review
    inbox = (await client.get(ALERTS, headers=auth_headers(w["clinician"]))).json()["items"]
    assert {a["id"] for a in inbox} == set(entry["alerts"])
    assert {a["kind"] for a in inbox} == {"hypoglycemia_level_2", "dose_review_reduction"}
    assert all(a["entry_ids"] == [entry["id"]] and a["subject_code"] == w["s1"].subject_code for a in inbox)
    # the participant never sees the clinicians' inbox
    assert (await client.get(ALERTS, headers=phone)).status_code == 403


async def test_concurrent_lows_fold_into_one_alert(committing_client: httpx.AsyncClient, engine: Any) -> None:
    import asyncio

    from core.models.alerts import Alert

    # real commits: the five requests race; the diary's per-participant lock makes the fold exact
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        study = await create_study(setup)
        participant = await create_participant(setup, study)
        await create_staff(setup, study, Role.clinician)
        phone = auth_headers(await participant_user(setup, participant))
        await setup.commit()
    times = [f"2026-03-02T15:{m:02d}:00+01:00" for m in (0, 12, 24, 36, 48)]
    answers = await asyncio.gather(
        *(
            committing_client.post(
                entries_path(participant),
                json=entry_body("glucose", value=65, unit="mg/dL", context="random", occurred_at=t),
                headers=phone,
            )
            for t in times
        )
    )
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    async with AsyncSession(engine) as check:
        alerts = (
            (await check.execute(select(Alert).where(col(Alert.participant_id) == participant.id)))
            .scalars()
            .all()
        )
    level1 = [a for a in alerts if a.kind == "hypoglycemia_level_1"]
    assert [a.occurrences for a in level1] == [5]
    assert {tuple(a.json()["alerts"]) for a in answers} >= {(str(level1[0].id),)}


async def test_alert_details_have_a_schema_per_kind_in_openapi(client: httpx.AsyncClient) -> None:
    # generated clients got `details` as an untyped object; now each family of kinds names its shape
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    details = schemas["AlertPublic"]["properties"]["details"]
    named = {ref["$ref"].rsplit("/", 1)[1] for ref in details["anyOf"]}
    assert named == {"GlucoseEventDetails", "IllnessDetails", "DoseReviewDetails", "OtherAlertDetails"}
    assert set(schemas["DoseReviewDetails"]["required"]) >= {"suggestion", "readings", "days", "numbers"}
    assert schemas["AlertPublic"]["properties"]["category"] == {"$ref": "#/components/schemas/AlertCategory"}
