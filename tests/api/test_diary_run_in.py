"""Run-in days: the baseline insulin dose is the 14 days before day 0 (the treatment date), which may lie before
enrolment. Study staff enter those days retrospectively from the paper diary, marked `run_in`; a participant's
own entries start on the enrolment day.

The factory's participant: enrolled 5 January 2026 (Europe/Ljubljana), day 0 on 12 January 2026; the protocol's
run-in is 14 days, so run-in days start on 29 December 2025 (12 January - 14 days).
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from core.protocol import DEFAULT_PROTOCOL, with_overrides
from tests import factories as f
from tests.factories import entries_path, entry_body


async def _world(session: AsyncSession, **study: Any) -> dict[str, Any]:
    the_study = await f.create_study(session, **study)
    participant = await f.create_participant(session, the_study)
    return {
        "participant": participant,
        "phone": f.auth_headers(await f.participant_user(session, participant)),
        "guardian": f.auth_headers(await f.create_guardian(session, participant)),
        "clinician": f.auth_headers(await f.create_staff(session, the_study, Role.clinician)),
        "coordinator": f.auth_headers(await f.create_staff(session, the_study, Role.coordinator)),
    }


def _dose(at: str) -> dict[str, Any]:
    return entry_body("insulin", units=12, insulin_type="long", purpose="basal", occurred_at=at)


async def test_staff_enter_run_in_days_marked_as_such(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    first_run_in_day = _dose("2025-12-29T08:00:00+01:00")
    day_before_enrolment = _dose("2026-01-04T21:00:00+01:00")
    on_enrolment_day = _dose("2026-01-05T08:00:00+01:00")
    by_clinician = await client.post(
        entries_path(w["participant"]), json=first_run_in_day, headers=w["clinician"]
    )
    assert by_clinician.status_code == 201, by_clinician.text
    assert by_clinician.json()["run_in"] is True and by_clinician.json()["local_date"] == "2025-12-29"
    batch = await client.post(
        entries_path(w["participant"], "batch"),
        json={"entries": [day_before_enrolment, on_enrolment_day]},
        headers=w["coordinator"],
    )
    [before, on] = batch.json()["results"]
    assert before["status"] == on["status"] == "created"
    assert before["entry"]["run_in"] is True and on["entry"]["run_in"] is False
    stored = await client.get(entries_path(w["participant"], first_run_in_day["id"]), headers=w["phone"])
    assert stored.json()["run_in"] is True and stored.json()["recorded_by"]["role"] == "clinician"


async def test_run_in_entries_are_refused_to_the_participant_and_before_the_run_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    run_in_day = _dose("2026-01-02T08:00:00+01:00")
    for who in ("phone", "guardian"):
        response = await client.post(entries_path(w["participant"]), json=run_in_day, headers=w[who])
        assert response.status_code == 422, (who, response.text)
        message = response.json()["fields"][0]["message"]
        assert "before the participant's enrolment on 2026-01-05" in message
        assert "study staff" in message
    too_early = _dose("2025-12-28T23:30:00+01:00")  # one day before the run-in starts
    response = await client.post(entries_path(w["participant"]), json=too_early, headers=w["clinician"])
    assert response.status_code == 422
    [problem] = response.json()["fields"]
    assert problem["path"] == "occurred_at" and "run-in days start on 2025-12-29" in problem["message"]
    # an edit cannot move a participant's entry into the run-in either
    mine = _dose("2026-01-06T08:00:00+01:00")
    assert (
        await client.post(entries_path(w["participant"]), json=mine, headers=w["phone"])
    ).status_code == 201
    moved = await client.patch(
        entries_path(w["participant"], mine["id"]),
        json={"version": 1, "reason": "wrong day", "occurred_at": "2026-01-03T08:00:00+01:00"},
        headers=w["phone"],
    )
    assert moved.status_code == 422 and moved.json()["fields"][0]["path"] == "occurred_at"
    corrected = await client.patch(
        entries_path(w["participant"], mine["id"]),
        json={
            "version": 1,
            "reason": "paper diary says 3 January",
            "occurred_at": "2026-01-03T08:00:00+01:00",
        },
        headers=w["clinician"],
    )
    assert corrected.status_code == 200 and corrected.json()["run_in"] is True


async def test_the_protocol_sets_the_run_in_length(client: httpx.AsyncClient, session: AsyncSession) -> None:
    w = await _world(session, protocol=with_overrides(DEFAULT_PROTOCOL, {"diary": {"run_in_days": 0}}))
    response = await client.post(
        entries_path(w["participant"]), json=_dose("2026-01-04T08:00:00+01:00"), headers=w["clinician"]
    )
    assert response.status_code == 422
    assert "run-in days start on 2026-01-12" in response.json()["fields"][0]["message"]
