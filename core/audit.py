"""The audit trail: one append-only row per change to people, access, enrolment or protocol (no update path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.auth import AuditEvent


@dataclass(frozen=True)
class AuditContext:
    """Where a change came from: the client's address, its user agent and the request id (all optional)."""

    client_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


SYSTEM = AuditContext()  # the CLI, jobs and the demo loader


def _document(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else to_jsonable_python(value)


async def record(
    *,
    session: AsyncSession,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    context: AuditContext | None = None,
) -> AuditEvent:
    """Add one audit event in the caller's transaction. `action` reads `domain.verb`, e.g. `auth.login_failed`."""
    context = context or SYSTEM
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        before=_document(before),
        after=_document(after),
        client_address=context.client_address,
        user_agent=context.user_agent[:300] if context.user_agent else None,
        request_id=context.request_id,
    )
    session.add(event)
    await session.flush()
    return event
