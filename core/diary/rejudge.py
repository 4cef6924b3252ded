"""Re-judging: readings judged again when a meal near them is logged, moved or voided, and stored entries that
a new alert names as evidence gaining it in their `alerts`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core import clock
from core.access import Actor
from core.diary.rows import bump_sequence, factor_of, protocol_of, set_outcome, version_values
from core.models.diary import DiaryEntry, DiaryEntryVersion, GlucoseReading
from core.models.study import Participant
from core.rules import lookups as rule_lookups
from core.rules import service as rules_service


async def name_alerts_on_evidence(
    *, session: AsyncSession, participant: Participant, outcomes: Sequence[rules_service.RuleOutcome]
) -> None:
    """Stored entries that a new alert linked as evidence of a pattern name it in their `alerts` too; each
    takes a new feed position (its answer changed) but no new version (what was entered did not change)."""
    wanted: dict[uuid.UUID, list[uuid.UUID]] = {}
    for outcome in outcomes:
        for entry_id, alert_id in outcome.evidence_of:
            wanted.setdefault(entry_id, []).append(alert_id)
    if not wanted:
        return
    rows = (
        await session.execute(
            select(DiaryEntry).where(
                col(DiaryEntry.participant_id) == participant.id, col(DiaryEntry.id).in_(list(wanted))
            )
        )
    ).scalars()
    changed = [row for row in rows if set_outcome(row, list(row.flags), wanted[row.id])]
    if not changed:
        return
    last = await bump_sequence(session=session, participant_id=participant.id, count=len(changed))
    for position, row in enumerate(changed, start=last - len(changed) + 1):
        row.change_seq = position
    await session.flush()


REJUDGE = "rejudge"  # the version op of a reading judged again after a meal near it changed


async def rejudge_near_meal(
    *,
    session: AsyncSession,
    actor: Actor,
    participant: Participant,
    meal_ids: Sequence[uuid.UUID],
    times: Sequence[datetime],
    exclude: frozenset[uuid.UUID] = frozenset(),
) -> int:
    """Judge again the fasting and postprandial readings a logged, moved or voided meal bears on.

    A phone syncing offline entries one at a time may send a reading before the meal it followed: the reading
    was judged without it ("fasting" though a meal came 2 h before, or postprandial with no meal known). Each
    reading from a meal's time to MEAL_LOOKBACK after it (and any reading linked to the meal) is judged
    again; one whose flags change gets a new version ("rejudge", attributed to whoever logged the meal, with
    the reason) and a new feed position, so phones and clinicians see it. `exclude`: readings just judged with
    the meals present (a batch's own). The number of readings that changed.
    """
    if not (times or meal_ids):
        return 0
    near = [
        and_(col(GlucoseReading.occurred_at) >= start, col(GlucoseReading.occurred_at) <= end)
        for start, end in _merged_windows(times, rule_lookups.MEAL_LOOKBACK)
    ]
    affected = (
        select(GlucoseReading.entry_id)
        .where(
            col(GlucoseReading.participant_id) == participant.id,
            col(GlucoseReading.voided).is_(False),
            col(GlucoseReading.context).in_(("fasting", "postprandial")),
            or_(*near, col(GlucoseReading.meal_id).in_(list(meal_ids))),
        )
        .scalar_subquery()
    )
    readings = [
        row
        for row in (
            await session.execute(
                select(DiaryEntry)
                .where(col(DiaryEntry.id).in_(affected), col(DiaryEntry.voided).is_(False))
                .order_by(col(DiaryEntry.occurred_at), col(DiaryEntry.id))
            )
        ).scalars()
        if row.id not in exclude
    ]
    if not readings:
        return 0
    outcomes = await rules_service.rejudge_readings(
        session=session, participant=participant, readings=readings
    )
    await name_alerts_on_evidence(session=session, participant=participant, outcomes=outcomes)
    factor = factor_of(await protocol_of(session=session, participant=participant))
    changed = [
        row
        for row, outcome in zip(readings, outcomes, strict=True)
        if set_outcome(row, outcome.flags, outcome.alert_ids)
    ]
    if not changed:
        return 0
    last = await bump_sequence(session=session, participant_id=participant.id, count=len(changed))
    now = clock.now()
    reason = (
        f"re-judged by the protocol rules: the meal(s) {', '.join(str(m) for m in meal_ids)}"
        " logged, moved or voided around it"
    )
    for position, row in enumerate(changed, start=last - len(changed) + 1):
        row.version += 1
        row.change_seq = position
        row.updated_at = now
        record = version_values(row, op=REJUDGE, actor=actor, at=now, reason=reason, mg_dl_per_mmol_l=factor)
        session.add(DiaryEntryVersion(**record))
    await session.flush()
    return len(changed)


def _merged_windows(times: Sequence[datetime], length: timedelta) -> list[tuple[datetime, datetime]]:
    """[t, t + length] for each time, overlapping ones merged: a week of meals synced at once is one window,
    not a thousand OR-ed conditions (SQLite refuses expressions deeper than 1,000)."""
    merged: list[tuple[datetime, datetime]] = []
    for start in sorted(times):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], start + length))
        else:
            merged.append((start, start + length))
    return merged
