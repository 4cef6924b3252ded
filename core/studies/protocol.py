"""Reading a study's protocol settings in force (and any earlier version)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.errors import NotFound
from core.models.study import ProtocolVersion, Study
from core.protocol import ProtocolSettings


async def protocol_version(
    *, session: AsyncSession, study_id: uuid.UUID, version: int | None = None
) -> ProtocolVersion:
    """The stored protocol version `version` of the study (default: the one in force)."""
    if version is None:
        study = await session.get(Study, study_id)
        if study is None:
            raise NotFound("No such study.")
        version = study.protocol_version
    result = await session.execute(
        select(ProtocolVersion).where(
            col(ProtocolVersion.study_id) == study_id, col(ProtocolVersion.version) == version
        )
    )
    row = result.scalar_one_or_none()
    if row is None:
        raise NotFound(f"The study has no protocol version {version}.")
    return row


async def current_protocol(*, session: AsyncSession, study_id: uuid.UUID) -> tuple[ProtocolSettings, int]:
    """The settings in force for the study and their version number."""
    row = await protocol_version(session=session, study_id=study_id)
    return ProtocolSettings.model_validate(row.settings), row.version
