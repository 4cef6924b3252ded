"""Annotated dependency aliases: what a route needs, defined once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import database


async def get_session() -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit if the route returned, roll back if it raised."""
    session = database.session()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


# scope="function": the commit runs before the answer is sent, so a failed commit is never reported as saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
