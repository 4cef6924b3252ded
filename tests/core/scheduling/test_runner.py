"""The job runner: APScheduler fires every registered job at start (catch-up) and stops cleanly; a failing job
is recorded as failed; `glucodiary jobs` lists and runs jobs in a real subprocess."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from core.db import session_scope
from core.models.jobs import JobRun
from core.scheduling import runner
from core.scheduling.registry import JOBS, Job
from tests.conftest import BACKEND
from tests.core.test_cli import _run


def test_jobs_are_named_domain_action_and_registered_once() -> None:
    assert set(JOBS) == {
        "visits.remind",
        "visits.flag_missed",
        "diary.remind_fasting",
        "diary.flag_silent",
        "episodes.weekly_summary",
        "episodes.refresh",
        "endpoints.snapshot",
    }
    assert all(name.count(".") == 1 and job.name == name for name, job in JOBS.items())


async def _runs() -> list[JobRun]:
    async with session_scope() as session:
        return list((await session.execute(select(JobRun))).scalars())


async def test_the_scheduler_runs_every_job_at_start_and_stops_on_request(committing_app: FastAPI) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_in_background(stop))
    for _ in range(200):  # bounded: 20 s at most
        if {r.name for r in await _runs()} == set(JOBS):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=35)
    runs = await _runs()
    assert {r.name for r in runs} == set(JOBS) and {r.outcome for r in runs} == {"ok"}


async def test_a_failing_job_is_recorded_as_failed(
    committing_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_session: AsyncSession, _now: datetime) -> dict[str, int]:
        raise RuntimeError("the lab feed is down")

    monkeypatch.setitem(
        JOBS, "test.broken", Job("test.broken", CronTrigger(minute="0"), "hourly", broken, "x")
    )
    result = await runner.run_job("test.broken")
    assert result.outcome == "failed" and result.error == "RuntimeError: the lab feed is down"
    [run] = await _runs()
    assert (run.name, run.outcome, run.error) == (
        "test.broken",
        "failed",
        "RuntimeError: the lab feed is down",
    )


@pytest.mark.skipif(BACKEND == "postgres", reason="the commands run on their own SQLite file on either leg")
def test_visits_plan_and_jobs_from_the_command_line(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    assert _run(["demo"], tmp_path).returncode == 0
    planned = _run(["visits", "plan"], tmp_path)
    # the demo enrols through the enrolment service, which planned its participants' visits already
    assert planned.returncode == 0 and planned.stdout.strip() == "0 visits planned", planned.stderr
    ran = _run(["jobs", "run", "visits.flag_missed"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("visits.flag_missed: ok {")
    listed = _run(["jobs", "list"], tmp_path)
    line = next(text for text in listed.stdout.splitlines() if text.startswith("visits.flag_missed"))
    assert " ok " in line and "hourly at :20" in line
    never = next(text for text in listed.stdout.splitlines() if text.startswith("visits.remind"))
    assert "never" in never
    unknown = _run(["jobs", "run", "visits.nothing"], tmp_path)
    assert unknown.returncode == 2 and "visits.remind" in unknown.stderr
