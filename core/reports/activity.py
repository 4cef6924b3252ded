"""Diary completeness (expected vs logged fasting readings per week) and exercise against the protocol's regimen
(sessions and minutes per week, glucose on exercise days vs other days), in SQL.

Weeks are numbered from 1 from day 0, like frames: week k covers [day 0 + 7(k-1), day 0 + 7k), clipped to the
report period, the withdrawal and the data cut. The protocol expects one fasting reading a day on study.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Float, Select, and_, case, cast, distinct, func, literal, select
from sqlmodel import col

from core.models.diary import DiaryEntry, GlucoseReading
from core.models.study import Arm, Participant, Site
from core.protocol import ProtocolSettings
from core.reports import sql
from core.reports.frames import Scope, frame_keys, in_frame, participant_frames, participants_in


def week_count(protocol: ProtocolSettings) -> int:
    return math.ceil(max(protocol.visits.months) * 365.25 / 12 / 7)


def participant_weeks(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    weeks = sql.numbers(week_count(protocol), "week").subquery("weeks")
    day0 = col(Participant.treatment_date)
    base = (
        select(
            col(Participant.id).label("participant_id"),
            col(Participant.subject_code).label("subject_code"),
            col(Site.code).label("site_code"),
            col(Arm.code).label("arm_code"),
            weeks.c.week.label("week"),
            sql.add_days(dialect, day0, (weeks.c.week - 1) * 7).label("week_start"),
            sql.add_days(dialect, day0, weeks.c.week * 7).label("week_next"),
            sql.local_day(dialect, col(Participant.withdrawn_at), col(Participant.timezone)).label(
                "withdrawal"
            ),
        )
        .select_from(Participant)
        .join(Site, col(Site.id) == col(Participant.site_id))
        .outerjoin(Arm, col(Arm.id) == col(Participant.arm_id))
        .join(weeks, literal(True))
        .where(participants_in(scope))
        .subquery("wbase")
    )
    cut = sql.as_date(scope.cut)
    start = (
        sql.latest(dialect, base.c.week_start, sql.as_date(scope.start)) if scope.start else base.c.week_start
    )
    end = sql.earliest(dialect, base.c.week_next, func.coalesce(base.c.withdrawal, cut), cut)
    return select(
        base.c.participant_id,
        base.c.subject_code,
        base.c.site_code,
        base.c.arm_code,
        base.c.week,
        base.c.week_start,
        sql.minus_one_day(dialect, base.c.week_next).label("week_end"),
        start.label("period_start"),
        end.label("period_end"),
        sql.days_between(dialect, start, end).label("days_on_study"),
    ).where(start < end)


def completeness_rows(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    weeks = participant_weeks(dialect, scope, protocol).cte("pw")
    fasting = (
        select(col(GlucoseReading.participant_id), col(GlucoseReading.local_date))
        .where(
            col(GlucoseReading.voided).is_(False),
            col(GlucoseReading.context) == "fasting",
            col(GlucoseReading.participant_id).in_(select(col(Participant.id)).where(participants_in(scope))),
        )
        .subquery("fr")
    )
    in_week = in_frame(weeks, fasting, fasting.c.local_date)  # a week is a frame of 7 days
    keys = [weeks.c[n] for n in ("subject_code", "site_code", "arm_code", "week", "week_start", "week_end")]
    days = weeks.c.days_on_study
    logged_days = func.count(distinct(fasting.c.local_date))
    return (
        select(
            *keys,
            days.label("expected_fasting"),
            func.count(fasting.c.local_date).label("fasting_readings"),
            logged_days.label("days_with_fasting"),
            (100.0 * cast(logged_days, Float) / days).label("completeness_pct"),
        )
        .select_from(weeks)
        .outerjoin(fasting, in_week)
        .group_by(weeks.c.participant_id, days, *keys)
        .order_by(weeks.c.site_code, weeks.c.subject_code, weeks.c.week)
    )


def _number(dialect: str, key: str) -> Any:
    return sql.json_number(dialect, col(DiaryEntry.data), key)


def exercise_rows(dialect: str, scope: Scope, protocol: ProtocolSettings) -> Select[Any]:
    frames = participant_frames(dialect, scope, protocol).cte("pf")
    in_scope = select(col(Participant.id)).where(participants_in(scope))
    sessions = (
        select(
            col(DiaryEntry.participant_id),
            col(DiaryEntry.local_date),
            _number(dialect, "duration_min").label("minutes"),
        )
        .where(
            col(DiaryEntry.kind) == "exercise",
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.participant_id).in_(in_scope),
        )
        .subquery("ex")
    )
    exercise_days = select(sessions.c.participant_id, sessions.c.local_date).distinct().subquery("exd")
    readings = (
        select(
            col(GlucoseReading.participant_id),
            col(GlucoseReading.local_date),
            col(GlucoseReading.value_mg_dl),
            exercise_days.c.local_date.is_not(None).label("exercise_day"),
        )
        .outerjoin(
            exercise_days,
            and_(
                exercise_days.c.participant_id == col(GlucoseReading.participant_id),
                exercise_days.c.local_date == col(GlucoseReading.local_date),
            ),
        )
        .where(col(GlucoseReading.voided).is_(False), col(GlucoseReading.participant_id).in_(in_scope))
        .subquery("gx")
    )

    def per_frame(table: Any, *figures: Any) -> Any:
        return (
            select(frames.c.participant_id, frames.c.frame, *figures)
            .select_from(frames)
            .join(table, in_frame(frames, table, table.c.local_date))
            .group_by(frames.c.participant_id, frames.c.frame)
            .subquery()
        )

    done = per_frame(sessions, func.count().label("sessions"), func.sum(sessions.c.minutes).label("minutes"))
    on_day = readings.c.exercise_day.is_(True)
    glucose = per_frame(
        readings,
        func.avg(case((on_day, readings.c.value_mg_dl))).label("mean_mg_dl_exercise_days"),
        func.avg(case((~on_day, readings.c.value_mg_dl))).label("mean_mg_dl_other_days"),
    )
    weeks = cast(frames.c.exposure_days, Float) / 7.0
    n_sessions = func.coalesce(done.c.sessions, 0)
    n_minutes = func.coalesce(done.c.minutes, 0)
    regimen = protocol.exercise_regimen_sessions_per_week * protocol.exercise_regimen_minutes_per_session
    joined = lambda sub: and_(sub.c.participant_id == frames.c.participant_id, sub.c.frame == frames.c.frame)  # noqa: E731
    return (
        select(
            *frame_keys(frames),
            n_sessions.label("sessions"),
            n_minutes.label("minutes"),
            (cast(n_sessions, Float) / weeks).label("sessions_per_week"),
            (cast(n_minutes, Float) / weeks).label("minutes_per_week"),
            literal(protocol.exercise_regimen_sessions_per_week).label("regimen_sessions_per_week"),
            literal(regimen).label("regimen_minutes_per_week"),
            (100.0 * cast(n_minutes, Float) / weeks / regimen if regimen else literal(None)).label(
                "regimen_minutes_pct"
            ),
            glucose.c.mean_mg_dl_exercise_days,
            glucose.c.mean_mg_dl_other_days,
        )
        .select_from(frames)
        .outerjoin(done, joined(done))
        .outerjoin(glucose, joined(glucose))
        .order_by(frames.c.site_code, frames.c.subject_code, frames.c.frame)
    )
