"""The demo study: every printed login works through /auth/token and /me shows who each may log for."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, demo
from core.demo import people as demo_people
from core.studies.eligibility import age_in_years
from tests.urls import API


async def token(client: httpx.AsyncClient, login: demo.DemoLogin) -> dict[str, str]:
    answer = await client.post(
        f"{API}/auth/token", data={"username": login.email, "password": login.password}
    )
    assert answer.status_code == 200, f"{login.email}: {answer.text}"
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_demo_people_and_logins(session: AsyncSession, client: httpx.AsyncClient) -> None:
    people = await demo_people.load_people(session=session)
    assert people.study.code == "MSCT1DM" and people.study.blinded
    child, teen, adult = (people.participants[k] for k in ("child", "teen", "adult"))
    today = clock.now().date()
    assert [age_in_years(p.birth_date, p.enrolled_at.date()) for p in (child, teen, adult)] == [7, 15, 26]
    assert child.user_id is None and teen.user_id is not None and adult.user_id is not None
    assert child.treatment_date == today - timedelta(days=90)

    for login in demo.LOGINS:
        await token(client, login)
    guardian = await client.get(f"{API}/me", headers=await token(client, demo_people.GUARDIAN))
    assert [(p["subject_code"], p["relationship"]) for p in guardian.json()["participants"]] == [
        ("MS-001", "mother")
    ]
    own = await client.get(f"{API}/me", headers=await token(client, demo_people.TEEN))
    assert [(p["subject_code"], p["relationship"]) for p in own.json()["participants"]] == [
        ("MS-002", "self")
    ]

    url = f"{API}/studies/{people.study.id}/participants"
    clinician = (await client.get(url, headers=await token(client, demo_people.CLINICIAN))).json()
    assert [p["subject_code"] for p in clinician["items"]] == ["MS-001", "MS-002"]  # site LJU only
    coordinator = (await client.get(url, headers=await token(client, demo_people.COORDINATOR))).json()
    assert [p["subject_code"] for p in coordinator["items"]] == ["MS-001", "MS-002", "MS-003"]
    assert all("arm_code" not in p for p in coordinator["items"])
    statistician = (await client.get(url, headers=await token(client, demo_people.STATISTICIAN))).json()
    assert [p["arm_code"] for p in statistician["items"]] == ["MSC", "CTL", "MSC"]


async def test_loading_twice_creates_nothing_new(session: AsyncSession) -> None:
    created, logins = await demo.load_demo(session=session)
    again, same = await demo.load_demo(session=session)
    assert (created, again) == (True, False)
    assert logins == same and len(logins) == 7
