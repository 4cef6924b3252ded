"""The one place jobs are registered: each job's name, trigger and function (the jobs live in their domains)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from core.adherence import jobs as adherence_jobs
from core.episodes import jobs as episode_jobs
from core.reports import jobs as report_jobs
from core.visits import jobs as visit_jobs

# A job gets the run's session (it only flushes; the runner commits once) and the run's moment (core.clock),
# and returns counts of what it did. Every effect is keyed (an outbox dedup key), so running it again, or
# in two schedulers at once, changes nothing the second time.
JobFunction = Callable[[AsyncSession, datetime], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger
    trigger_text: str
    run: JobFunction
    description: str


def _cron(text: str, **fields: str) -> tuple[BaseTrigger, str]:
    return CronTrigger(timezone="UTC", **fields), text


def _job(name: str, cron: tuple[BaseTrigger, str], run: JobFunction, description: str) -> Job:
    return Job(name=name, trigger=cron[0], trigger_text=cron[1], run=run, description=description)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        # every 15 minutes: reminders go out at a local hour in many time zones
        _job(
            "visits.remind",
            _cron("every 15 minutes", minute="*/15"),
            visit_jobs.remind,
            "visit reminders (protocol lead times, at the protocol's local time) to participant and guardians",
        ),
        _job(
            "visits.flag_missed",
            _cron("hourly at :20", minute="20"),
            visit_jobs.flag_missed,
            "a visit whose window closed without a result: an operational message to the coordinators",
        ),
        _job(
            "diary.remind_fasting",
            _cron("every 15 minutes", minute="7-59/15"),
            adherence_jobs.remind_fasting,
            "no fasting reading by the protocol's local time: a gentle reminder to participant and guardians",
        ),
        _job(
            "diary.flag_silent",
            _cron("hourly at :40", minute="40"),
            adherence_jobs.flag_silent,
            "no diary entries for the protocol's number of days: an operational message to the coordinators",
        ),
        _job(
            "episodes.refresh",
            _cron("every 10 minutes", minute="4-59/10"),
            episode_jobs.refresh,
            "the hypoglycemia episodes of every participant who logged since, detected ahead of the reports",
        ),
        # weekly: the week it summarises has ended in every time zone by Monday 12:00 UTC
        _job(
            "episodes.weekly_summary",
            _cron("Mondays at 12:30", day_of_week="mon", hour="12", minute="30"),
            episode_jobs.weekly_summary,
            "last week's hypoglycemia episodes of their participants, once a week to each clinician",
        ),
        _job(
            "endpoints.snapshot",
            _cron("hourly at :50", minute="50"),
            report_jobs.snapshot,
            "each participant's endpoint counts of every time frame that has ended, stored once per protocol version",
        ),
    )
}
