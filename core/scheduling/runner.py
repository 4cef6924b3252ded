"""Running jobs once: a run takes the job's database lock, does its keyed effects and records itself in one
transaction; APScheduler only says when (memory job store: the database, not the scheduler, says what is due)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.db import is_postgres, session_scope
from core.models.jobs import JobOutcome, JobRun
from core.scheduling.registry import JOBS

log = logging.getLogger("glucodiary.scheduler")
# APScheduler logs every firing at INFO (two lines a run); our own line per run says what the run did
logging.getLogger("apscheduler").setLevel(logging.WARNING)
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}"
STOP_GRACE_SECONDS = 30


@dataclass(frozen=True)
class RunResult:
    name: str
    outcome: str  # ok, failed, or busy (another scheduler is running this job right now; nothing done)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


async def _exclusive(session: AsyncSession, name: str) -> bool:
    """Hold the job's lock until this transaction ends; False when another run holds it.

    PostgreSQL: a transaction-level advisory lock per job name. SQLite: the transaction's BEGIN IMMEDIATE
    already holds the database's write lock, so a second run waits for the first and then finds its effects
    queued (their keys are unique) and adds nothing.
    """
    if not is_postgres(session):
        return True
    locked = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": f"glucodiary.job:{name}"}
    )
    return bool(locked.scalar_one())


async def run_job(name: str, *, runner_id: str = RUNNER_ID) -> RunResult:
    """Run job `name` now, once: its effects and its job_run row commit together, or not at all."""
    job = JOBS[name]
    started = clock.now()
    try:
        async with session_scope() as session:
            if not await _exclusive(session, name):
                log.info("job %s is running in another scheduler; skipped", name)
                return RunResult(name, "busy")
            counts = await job.run(session, started)
            session.add(
                JobRun(
                    name=name,
                    started_at=started,
                    finished_at=clock.now(),
                    outcome=JobOutcome.ok,
                    counts=counts,
                    runner=runner_id,
                )
            )
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("job %s failed", name)
        async with session_scope() as session:
            session.add(
                JobRun(
                    name=name,
                    started_at=started,
                    finished_at=clock.now(),
                    outcome=JobOutcome.failed,
                    error=error,
                    runner=runner_id,
                )
            )
        return RunResult(name, JobOutcome.failed.value, error=error)
    log.info("job %s done: %s", name, counts)
    return RunResult(name, JobOutcome.ok.value, counts)


async def last_runs(session: AsyncSession) -> dict[str, JobRun]:
    """The latest run of each job that ever ran."""
    latest = (
        select(col(JobRun.name), func.max(col(JobRun.started_at)).label("started_at"))
        .group_by(col(JobRun.name))
        .subquery()
    )
    result = await session.execute(
        select(JobRun).join(
            latest, (col(JobRun.name) == latest.c.name) & (col(JobRun.started_at) == latest.c.started_at)
        )
    )
    return {run.name: run for run in result.scalars()}


class Scheduler:
    """APScheduler's triggers fire `run_job`; in-flight runs are awaited (up to a grace period) at stop."""

    def __init__(self) -> None:
        self._in_flight: set[asyncio.Task[RunResult]] = set()
        self._apscheduler = AsyncIOScheduler(timezone=UTC)  # the default memory job store, never a shared one
        for job in JOBS.values():
            self._apscheduler.add_job(
                self._fire,
                job.trigger,
                args=[job.name],
                id=job.name,
                name=job.name,
                coalesce=True,  # many missed firings are one run: the run looks at the database, not the trigger
                max_instances=1,
                misfire_grace_time=None,
                next_run_time=datetime.now(UTC),  # at start every job catches up on what fell due while down
            )

    async def _fire(self, name: str) -> None:
        task = asyncio.create_task(run_job(name))
        self._in_flight.add(task)
        try:
            await asyncio.shield(task)
        finally:
            self._in_flight.discard(task)

    def jobs(self) -> list[tuple[str, datetime | None]]:
        return [(job.id, job.next_run_time) for job in self._apscheduler.get_jobs()]

    def start(self) -> None:
        self._apscheduler.start()
        log.info("scheduler %s started: %s", RUNNER_ID, ", ".join(JOBS))

    async def stop(self) -> None:
        self._apscheduler.shutdown(wait=False)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=STOP_GRACE_SECONDS)
        log.info("scheduler %s stopped", RUNNER_ID)


async def run_in_background(stop: asyncio.Event) -> None:
    """The scheduler as a task of another process (the API under `make run`) until `stop` is set."""
    scheduler = Scheduler()
    scheduler.start()
    try:
        await stop.wait()
    finally:
        await scheduler.stop()


async def run_forever() -> None:
    """`glucodiary scheduler`: run until SIGTERM or SIGINT, then finish the runs in flight."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_in_background(stop)
