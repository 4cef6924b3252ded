"""Factories for test data: create_x(session, **overrides), flushed, never committed."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import security
from core.models.people import Role, User
from core.models.study import (
    Arm,
    GuardianLink,
    Participant,
    ParticipantWeight,
    ProtocolVersion,
    Site,
    StaffAssignment,
    Study,
)
from core.protocol import DEFAULT_PROTOCOL, ProtocolSettings
from tests.urls import API

_counter = itertools.count(1)
DEFAULT_PASSWORD = "Quiet-Meadow-Lantern-73"
_HASH_CACHE: dict[str, str] = {}


def _hash(password: str) -> str:
    # hashing is real (Argon2 at test cost) but computed once per distinct password
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = security.hash_password_sync(password)
    return _HASH_CACHE[password]


async def create_user(session: AsyncSession, **overrides: Any) -> User:
    n = next(_counter)
    password = overrides.pop("password", DEFAULT_PASSWORD)
    values: dict[str, Any] = {
        "email": f"user{n}@example.org",
        "role": Role.participant,
        "password_hash": _hash(password),
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    return user


async def create_study(
    session: AsyncSession,
    *,
    sites: tuple[str, ...] = ("S1", "S2"),
    arms: tuple[str, ...] = ("A", "B"),
    protocol: ProtocolSettings = DEFAULT_PROTOCOL,
    **overrides: Any,
) -> Study:
    n = next(_counter)
    values: dict[str, Any] = {
        "code": f"STUDY{n}",
        "name": f"Study {n}",
        "timezone": "Europe/Ljubljana",
        "blinded": True,
    }
    values.update(overrides)
    study = Study(**values)
    session.add(study)
    await session.flush()
    session.add(ProtocolVersion(study_id=study.id, version=1, settings=protocol.model_dump(mode="json")))
    for code in sites:
        session.add(Site(study_id=study.id, code=code, name=f"Site {code}", timezone=study.timezone))
    for code in arms:
        session.add(Arm(study_id=study.id, code=code, name=f"Arm {code}"))
    await session.flush()
    return study


async def get_site(session: AsyncSession, study: Study, code: str = "S1") -> Site:
    from sqlmodel import select

    return (
        await session.execute(select(Site).where(Site.study_id == study.id, Site.code == code))
    ).scalar_one()


async def get_arm(session: AsyncSession, study: Study, code: str = "A") -> Arm:
    from sqlmodel import select

    return (await session.execute(select(Arm).where(Arm.study_id == study.id, Arm.code == code))).scalar_one()


async def create_staff(
    session: AsyncSession,
    study: Study,
    role: Role,
    *,
    site_codes: tuple[str, ...] | None = ("S1",),
    **overrides: Any,
) -> User:
    """A staff user assigned to `site_codes` of the study (None: study-wide)."""
    user = await create_user(session, role=role, **overrides)
    if site_codes is None:
        session.add(StaffAssignment(user_id=user.id, study_id=study.id, site_id=None, role=role))
    else:
        for code in site_codes:
            site = await get_site(session, study, code)
            session.add(StaffAssignment(user_id=user.id, study_id=study.id, site_id=site.id, role=role))
    await session.flush()
    return user


async def create_participant(
    session: AsyncSession,
    study: Study,
    *,
    site_code: str = "S1",
    arm_code: str | None = "A",
    with_login: bool = True,
    weight_kg: float | None = 60.0,
    **overrides: Any,
) -> Participant:
    n = next(_counter)
    site = await get_site(session, study, site_code)
    arm = await get_arm(session, study, arm_code) if arm_code else None
    user = await create_user(session, role=Role.participant) if with_login else None
    values: dict[str, Any] = {
        "study_id": study.id,
        "site_id": site.id,
        "arm_id": arm.id if arm else None,
        "subject_code": f"SUBJ-{n:04d}",
        "user_id": user.id if user else None,
        "sex": "female",
        "birth_date": date(2000, 5, 17),
        "enrolled_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "treatment_date": date(2026, 1, 12),
        "timezone": "Europe/Ljubljana",
    }
    values.update(overrides)
    participant = Participant(**values)
    session.add(participant)
    await session.flush()
    if weight_kg is not None:
        session.add(
            ParticipantWeight(
                participant_id=participant.id,
                measured_at=participant.enrolled_at,
                kg=weight_kg,
                source="enrolment",
            )
        )
        await session.flush()
    return participant


async def participant_user(session: AsyncSession, participant: Participant) -> User:
    user = await session.get(User, participant.user_id)
    assert user is not None
    return user


async def create_guardian(
    session: AsyncSession, participant: Participant, *, relationship: str = "mother", **overrides: Any
) -> User:
    guardian = await create_user(session, role=Role.guardian, **overrides)
    session.add(
        GuardianLink(guardian_user_id=guardian.id, participant_id=participant.id, relationship=relationship)
    )
    await session.flush()
    return guardian


def auth_headers(user: User) -> dict[str, str]:
    token, _ = security.issue_access_token(user_id=user.id, token_version=user.token_version)
    return {"Authorization": f"Bearer {token}"}


# ---- diary --------------------------------------------------------------------------------------------------
ENTRY_DEFAULTS: dict[str, dict[str, Any]] = {
    "glucose": {"value": 98, "unit": "mg/dL", "context": "fasting", "source": "meter"},
    "insulin": {"units": 8, "insulin_type": "long", "purpose": "basal", "delivery": "pen"},
    "meal": {"carbs_g": 45, "meal_type": "breakfast"},
    "exercise": {"activity": "walking", "duration_min": 60, "intensity": "moderate"},
    "illness": {"illness_type": "fever", "severity": "mild"},
    "hypo_event": {
        "symptoms": True,
        "needed_assistance": False,
        "treatment": ["oral_carbohydrate"],
        "unconscious_or_seizure": False,
    },
    "weight": {"kg": 61.5},
    "insulin_status": {"status": "discontinued"},
}


def entry_body(kind: str = "glucose", **overrides: Any) -> dict[str, Any]:
    """A valid diary entry of `kind` as a phone would send it (a fresh id; occurred 2026-03-02 07:30 +01:00)."""
    import uuid

    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "occurred_at": "2026-03-02T07:30:00+01:00",
        **ENTRY_DEFAULTS[kind],
    }
    body.update(overrides)
    return body


def entries_path(participant: Participant, *rest: str) -> str:
    return "/".join([f"{API}/participants/{participant.id}/entries", *rest])
