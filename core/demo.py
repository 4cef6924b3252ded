"""The demo study a newcomer sees after `make run`: fixed accounts whose logins are printed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.people import Role
from core.people import service as people_service


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    note: str = ""


ADMIN = DemoLogin("admin", "admin@demo.glucodiary.test", "demo-admin-Lantern-Orbit-42")


async def load_demo(*, session: AsyncSession) -> tuple[bool, list[DemoLogin]]:
    """Create the demo data unless it is there already; returns (created, logins)."""
    existing = await people_service.find_user_by_email(session=session, email=ADMIN.email)
    if existing is not None:
        return False, [ADMIN]
    await people_service.create_user(
        session=session, email=ADMIN.email, password=ADMIN.password, role=Role.admin
    )
    return True, [ADMIN]
