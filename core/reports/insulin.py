"""The insulin report (CLINICAL.md A3): total daily dose per participant per frame, IU/kg/day, the baseline of the
14 days before day 0, the change from it and the seed trial's change categories.

- A day's TDD = the sum of its doses (participant-local day). A day without a dose counts as 0 only while
  insulin is recorded as discontinued (an `insulin_status` entry; `resumed` ends it); otherwise it has no data.
- Period TDD = the mean over days with data = (sum of doses) / (dose days + discontinued days without a dose).
- IU/kg/day = period TDD / the latest weight on or before the period's last day (diary weight entries and the
  participant's recorded weights; the enrolment weight before any).
- change = 100 x (TDD - baseline) / baseline, rounded to 0.1, then: maintained when |change| < 15; reduced
  15-50 when -50 <= change <= -15; reduced > 50 below -50; the increases mirror them; discontinued when insulin
  is recorded as discontinued on the period's last day.
The SQL returns the sums and day counts; `finish` applies the arithmetic above to each row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlmodel import col

from core.models.diary import DiaryEntry
from core.models.study import Participant, ParticipantWeight
from core.reports import sql
from core.reports.frames import Scope, frame_keys, participant_frames, participants_in

BASELINE_DAYS = 14


def _dose_days(dialect: str, in_scope: Any) -> Any:
    units = sql.json_number(dialect, col(DiaryEntry.data), "units")
    return (
        select(
            col(DiaryEntry.participant_id).label("participant_id"),
            col(DiaryEntry.local_date).label("day"),
            func.sum(units).label("units"),
        )
        .where(
            col(DiaryEntry.kind) == "insulin",
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.participant_id).in_(in_scope),
        )
        .group_by(col(DiaryEntry.participant_id), col(DiaryEntry.local_date))
        .subquery("doses")
    )


def _stops(dialect: str, in_scope: Any) -> Any:
    """Discontinuation intervals [stop, next status change) per participant (end NULL: still discontinued)."""
    status = sql.json_text(dialect, col(DiaryEntry.data), "status")
    changes = (
        select(
            col(DiaryEntry.participant_id).label("participant_id"),
            col(DiaryEntry.local_date).label("day"),
            status.label("status"),
            func.lead(col(DiaryEntry.local_date))
            .over(
                partition_by=col(DiaryEntry.participant_id),
                order_by=(col(DiaryEntry.occurred_at), col(DiaryEntry.id)),
            )
            .label("next_day"),
        )
        .where(
            col(DiaryEntry.kind) == "insulin_status",
            col(DiaryEntry.voided).is_(False),
            col(DiaryEntry.participant_id).in_(in_scope),
        )
        .subquery("changes")
    )
    return (
        select(changes.c.participant_id, changes.c.day.label("start"), changes.c.next_day.label("end"))
        .where(changes.c.status == "discontinued")
        .subquery("stops")
    )


def _weight_at(dialect: str, participant: Any, last_day: Any) -> Any:
    """The latest weight on or before `last_day`, else the first one recorded (the enrolment weight): correlated
    scalar subqueries straight on the tables (a derived table could not see the outer row)."""
    kg = sql.json_number(dialect, col(DiaryEntry.data), "kg")
    diary = select().where(
        col(DiaryEntry.participant_id) == participant,
        col(DiaryEntry.kind) == "weight",
        col(DiaryEntry.voided).is_(False),
        col(DiaryEntry.local_date) <= last_day,
    )
    diary_order = (col(DiaryEntry.local_date).desc(), col(DiaryEntry.occurred_at).desc())
    diary_kg = diary.add_columns(kg).order_by(*diary_order).limit(1).scalar_subquery()
    diary_day = (
        diary.add_columns(col(DiaryEntry.local_date)).order_by(*diary_order).limit(1).scalar_subquery()
    )
    day = sql.local_day(dialect, col(ParticipantWeight.measured_at), col(Participant.timezone))
    recorded = (
        select()
        .select_from(ParticipantWeight)
        .join(Participant, col(Participant.id) == col(ParticipantWeight.participant_id))
        .where(col(ParticipantWeight.participant_id) == participant, day <= last_day)
    )
    recorded_order = col(ParticipantWeight.measured_at).desc()
    recorded_kg = (
        recorded.add_columns(col(ParticipantWeight.kg)).order_by(recorded_order).limit(1).scalar_subquery()
    )
    recorded_day = recorded.add_columns(day).order_by(recorded_order).limit(1).scalar_subquery()
    first = (
        select(col(ParticipantWeight.kg))
        .where(col(ParticipantWeight.participant_id) == participant)
        .order_by(col(ParticipantWeight.measured_at))
        .limit(1)
        .scalar_subquery()
    )
    later_recorded = or_(diary_day.is_(None), and_(recorded_day.is_not(None), recorded_day > diary_day))
    return func.coalesce(case((later_recorded, recorded_kg), else_=diary_kg), diary_kg, first)


def rows_query(dialect: str, scope: Scope, protocol: Any) -> Select[Any]:
    in_scope = select(col(Participant.id)).where(participants_in(scope))
    frames = participant_frames(dialect, scope, protocol).cte("pf")
    doses = _dose_days(dialect, in_scope)
    stops = _stops(dialect, in_scope)
    baseline_start = sql.add_days(dialect, frames.c.day0, -BASELINE_DAYS)
    baseline_end = frames.c.day0

    def dose_sum(start: Any, end: Any) -> tuple[Any, Any]:
        within = and_(
            doses.c.participant_id == frames.c.participant_id, doses.c.day >= start, doses.c.day < end
        )
        units = select(func.coalesce(func.sum(doses.c.units), 0.0)).where(within).scalar_subquery()
        days = select(func.count()).where(within).scalar_subquery()
        return units, days

    def stopped_days(start: Any, end: Any) -> Any:
        """Days of [start, end) inside a discontinuation, less those with a dose (they have data anyway)."""
        s = sql.latest(dialect, stops.c.start, start)
        e = sql.earliest(dialect, func.coalesce(stops.c.end, end), end)
        overlap = func.coalesce(func.sum(sql.days_between(dialect, s, e)), 0)
        inside = (
            select(overlap).where(stops.c.participant_id == frames.c.participant_id, s < e).scalar_subquery()
        )
        dosed = (
            select(func.count())
            .select_from(doses)
            .join(
                stops,
                and_(
                    stops.c.participant_id == doses.c.participant_id,
                    doses.c.day >= stops.c.start,
                    or_(stops.c.end.is_(None), doses.c.day < stops.c.end),
                ),
            )
            .where(doses.c.participant_id == frames.c.participant_id, doses.c.day >= start, doses.c.day < end)
            .scalar_subquery()
        )
        return inside - dosed

    last_day = sql.minus_one_day(dialect, frames.c.period_end)
    on_last_day = (
        select(func.count())
        .where(
            stops.c.participant_id == frames.c.participant_id,
            stops.c.start <= last_day,
            or_(stops.c.end.is_(None), stops.c.end > last_day),
        )
        .scalar_subquery()
    )
    units, dose_days = dose_sum(frames.c.period_start, frames.c.period_end)
    base_units, base_days = dose_sum(baseline_start, baseline_end)
    return select(
        *frame_keys(frames),
        units.label("units"),
        dose_days.label("dose_days"),
        stopped_days(frames.c.period_start, frames.c.period_end).label("stopped_days"),
        base_units.label("baseline_units"),
        base_days.label("baseline_dose_days"),
        stopped_days(baseline_start, baseline_end).label("baseline_stopped_days"),
        (on_last_day > 0).label("discontinued"),
        _weight_at(dialect, frames.c.participant_id, last_day).label("weight_kg"),
    ).order_by(frames.c.site_code, frames.c.subject_code, frames.c.frame)


def category(change: float | None, *, discontinued: bool) -> str | None:
    """A3's change categories on the change already rounded to 0.1."""
    if discontinued:
        return "discontinued"
    if change is None:
        return None
    if abs(change) < 15:
        return "maintained"
    if change < 0:
        return "reduced_15_50" if change >= -50 else "reduced_over_50"
    return "increased_15_50" if change <= 50 else "increased_over_50"


def finish(row: dict[str, Any]) -> dict[str, Any]:
    days = int(row["dose_days"] or 0) + int(row["stopped_days"] or 0)
    tdd = float(row["units"] or 0) / days if days else None
    base_days = int(row["baseline_dose_days"] or 0) + int(row["baseline_stopped_days"] or 0)
    baseline = float(row["baseline_units"] or 0) / base_days if base_days else None
    change = round(100 * (tdd - baseline) / baseline, 1) if tdd is not None and baseline else None
    weight = row["weight_kg"]
    return {
        "days_with_data": days,
        "tdd_iu": round(tdd, 1) if tdd is not None else None,
        "iu_per_kg": round(tdd / weight, 2) if tdd is not None and weight else None,
        "baseline_tdd_iu": round(baseline, 1) if baseline is not None else None,
        "change_pct": change,
        "change_category": category(change, discontinued=bool(row["discontinued"])),
    }
