"""After enrolment: withdrawing, completing, moving time zone, ending a guardian's access — each audited."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.models.auth import AuditEvent
from core.models.people import Role
from tests import factories
from tests.urls import API


async def test_status_moves_forward_only_and_is_audited(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    participant = await factories.create_participant(session, study)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    url = f"{API}/participants/{participant.id}"

    no_reason = await client.patch(url, json={"status": "withdrawn"}, headers=coordinator)
    assert no_reason.status_code == 422 and no_reason.json()["fields"][0]["path"] == "reason"
    withdrawn = await client.patch(
        url, json={"status": "withdrawn", "reason": "family moved abroad"}, headers=coordinator
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    back = await client.patch(url, json={"status": "enrolled", "reason": "mistake"}, headers=coordinator)
    assert back.status_code == 422
    assert back.json()["fields"][0] == {
        "path": "status",
        "message": "withdrawn -> enrolled not allowed; allowed none",
    }
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "participant.changed"))
    ).scalar_one()
    assert event.before == {"status": "enrolled", "timezone": "Europe/Ljubljana"}
    assert event.after == {
        "status": "withdrawn",
        "timezone": "Europe/Ljubljana",
        "reason": "family moved abroad",
    }


async def test_time_zone_must_be_real(session: AsyncSession, client: httpx.AsyncClient) -> None:
    study = await factories.create_study(session)
    participant = await factories.create_participant(session, study)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    url = f"{API}/participants/{participant.id}"
    bad = await client.patch(
        url, json={"timezone": "Europe/Atlantis", "reason": "moved"}, headers=coordinator
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["path"] == "timezone"
    moved = await client.patch(
        url, json={"timezone": "America/Toronto", "reason": "moved"}, headers=coordinator
    )
    assert moved.json()["timezone"] == "America/Toronto"


async def test_ending_a_guardian_link_ends_that_guardians_access(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    study = await factories.create_study(session)
    child = await factories.create_participant(session, study, with_login=False)
    guardian = await factories.create_guardian(session, child, relationship="father")
    guardian_headers = factories.auth_headers(guardian)
    coordinator = factories.auth_headers(await factories.create_staff(session, study, Role.coordinator))
    assert (await client.get(f"{API}/participants/{child.id}", headers=guardian_headers)).status_code == 200

    url = f"{API}/participants/{child.id}/guardians/{guardian.id}"
    assert (await client.delete(url, headers=coordinator)).status_code == 422  # a reason is required
    ended = await client.delete(url, params={"reason": "court order"}, headers=coordinator)
    assert ended.status_code == 204
    assert (await client.get(f"{API}/participants/{child.id}", headers=guardian_headers)).status_code == 404
    me = await client.get(f"{API}/me", headers=guardian_headers)
    assert me.json()["participants"] == []
    assert (await client.delete(url, params={"reason": "again"}, headers=coordinator)).status_code == 404
    actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert "guardian_link.ended" in actions
