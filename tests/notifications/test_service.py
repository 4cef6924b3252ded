"""Where the dispatcher runs: as a task of the API process under `make run` (started and stopped with it), and
what its start-up log says about channels and sites without a clinician."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.main import create_app
from core.config import get_settings
from core.db import database
from notifications import service


async def test_the_api_process_runs_the_dispatcher_when_asked(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().background, "in_api", True)
    monkeypatch.setattr(get_settings().notifications, "poll_s", 0.05)
    app = create_app()
    caplog.set_level(logging.INFO)
    try:
        async with app.router.lifespan_context(app):
            for _ in range(100):
                if "started; channels: in_app" in caplog.text:
                    break
                await asyncio.sleep(0.05)
    finally:
        database.use(engine)  # the lifespan's end disposed the process's engine: give the suite its own back
    messages = caplog.text
    assert "background service dispatcher runs in this process" in messages
    assert "only the in-app channel is on" in messages
    assert "started; channels: in_app" in messages and "stopped" in messages  # stopped with the API


async def test_the_start_up_log_names_a_site_without_a_clinician(
    committing_app: object, caplog: pytest.LogCaptureFixture
) -> None:
    from core.db import session_scope
    from core.models.people import Role
    from tests.factories import create_staff, create_study

    async with session_scope() as session:
        study = await create_study(session, sites=("S1", "S2"))
        await create_staff(session, study, Role.clinician, site_codes=("S1",))
    caplog.set_level(logging.INFO)
    await service.log_start_up()
    assert f"study {study.id}: site S2 (Site S2) has no clinician" in caplog.text
    assert f"study {study.id}: site S1" not in caplog.text
