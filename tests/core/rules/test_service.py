"""The rules on the database: flags from the diary's context, alerts raised and folded, messages queued,
voided causes recorded, dose-review suggestions from real rows, and one transaction for all of it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from core import clock
from core.models.alerts import Alert, AlertEntry
from core.models.diary import DiaryEntry
from core.models.outbox import OutboxMessage
from core.models.people import Role
from core.models.study import Participant, Study
from tests.core.rules.diary_rows import change, new_row, write
from tests.factories import create_participant, create_staff, create_study

TZ = ZoneInfo("Europe/Ljubljana")


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _clock() -> None:
    clock.set_now(datetime(2026, 4, 1, 12, tzinfo=ZoneInfo("UTC")))


async def world(session: AsyncSession) -> tuple[Study, Participant]:
    study = await create_study(session)
    return study, await create_participant(session, study)


async def alerts_of(session: AsyncSession, participant: Participant) -> list[Alert]:
    rows = await session.execute(
        select(Alert).where(col(Alert.participant_id) == participant.id).order_by(col(Alert.created_at))
    )
    return list(rows.scalars())


async def test_five_low_readings_in_an_hour_make_one_alert_with_five_occurrences(
    session: AsyncSession,
) -> None:
    study, participant = await world(session)
    s1_clinicians = [await create_staff(session, study, Role.clinician) for _ in range(2)]
    study_wide = await create_staff(session, study, Role.clinician, site_codes=None)
    await create_staff(session, study, Role.clinician, site_codes=("S2",))
    await create_staff(session, study, Role.coordinator)
    ids = set()
    for minute, value in zip((0, 15, 30, 45, 59), (65, 62, 66, 68, 67), strict=True):
        row, outcome = await write(
            session,
            participant,
            "glucose",
            local(10, 15, minute),
            value=value,
            unit="mg/dL",
            context="random",
        )
        assert row.flags == ["hypoglycemia_level_1"]
        ids |= set(outcome.alert_ids)
    safety = [a for a in await alerts_of(session, participant) if a.kind == "hypoglycemia_level_1"]
    assert len(safety) == 1 and ids >= {safety[0].id}
    alert = safety[0]
    assert (alert.occurrences, alert.severity, alert.status, alert.protocol_version) == (
        5,
        "warning",
        "open",
        1,
    )
    links = (
        (await session.execute(select(AlertEntry).where(col(AlertEntry.alert_id) == alert.id)))
        .scalars()
        .all()
    )
    assert len(links) == 5
    messages = (
        (
            await session.execute(
                select(OutboxMessage).where(
                    col(OutboxMessage.payload)["alert_id"].as_string() == str(alert.id)
                )
            )
        )
        .scalars()
        .all()
    )
    # one message per clinician of the participant's site (two at S1 and one study-wide), raised once only;
    # and one protocol-worded note to the participant whose reading it was (core/recipients.py routes both)
    staff = [m for m in messages if m.kind == "alert.raised"]
    assert sorted(m.recipient_user_id for m in staff) == sorted(
        [u.id for u in s1_clinicians] + [study_wide.id]
    )
    assert [(m.kind, m.recipient_user_id) for m in messages if m not in staff] == [
        ("alert.own_reading", participant.user_id)
    ]
    assert all("arm" not in str(m.payload) for m in messages)


async def test_a_repeat_after_the_fold_window_raises_a_new_alert(session: AsyncSession) -> None:
    _, participant = await world(session)
    await write(session, participant, "glucose", local(10, 8), value=50, unit="mg/dL", context="random")
    # 24 h fold window: 25 hours later it is a new alert
    await write(session, participant, "glucose", local(11, 9), value=52, unit="mg/dL", context="random")
    level2 = [a for a in await alerts_of(session, participant) if a.kind == "hypoglycemia_level_2"]
    assert [(a.severity, a.occurrences) for a in level2] == [("urgent", 1), ("urgent", 1)]


async def test_an_acknowledged_alert_is_not_joined(session: AsyncSession) -> None:
    _, participant = await world(session)
    _, first = await write(
        session, participant, "glucose", local(10, 8), value=50, unit="mg/dL", context="random"
    )
    alert = await session.get(Alert, first.alert_ids[0])
    assert alert is not None
    alert.status = "acknowledged"
    await session.flush()
    _, second = await write(
        session, participant, "glucose", local(10, 9), value=51, unit="mg/dL", context="random"
    )
    assert alert.id not in second.alert_ids


@pytest.mark.parametrize(
    ("data", "kind", "severity"),
    [
        ({"illness_type": "respiratory", "severity": "mild"}, "illness_reported", "info"),
        # ketones 1.4 raised but below the urgent 1.5: information only; 1.5 urgent; 2.9 urgent; 3.0 critical
        (
            {"illness_type": "fever", "severity": "moderate", "ketones_mmol_l": 1.4},
            "illness_reported",
            "info",
        ),
        ({"illness_type": "fever", "severity": "moderate", "ketones_mmol_l": 1.5}, "ketones_high", "urgent"),
        (
            {"illness_type": "gastrointestinal", "severity": "severe", "ketones_mmol_l": 2.9},
            "ketones_high",
            "urgent",
        ),
        (
            {"illness_type": "gastrointestinal", "severity": "severe", "ketones_mmol_l": 3.0},
            "ketones_critical",
            "critical",
        ),
        (
            {"illness_type": "other", "severity": "severe", "hospital_visit": True},
            "illness_hospital_visit",
            "critical",
        ),
    ],
)
async def test_illness_alerts(
    session: AsyncSession, data: dict[str, object], kind: str, severity: str
) -> None:
    _, participant = await world(session)
    row, outcome = await write(session, participant, "illness", local(12, 9), **data)
    assert row.flags == []
    [alert] = await alerts_of(session, participant)
    assert (alert.kind, alert.severity, alert.category) == (kind, severity, "safety")
    assert outcome.alert_ids == [alert.id]


async def test_a_severe_self_report_raises_a_critical_alert_and_a_review(session: AsyncSession) -> None:
    _, participant = await world(session)
    row, _ = await write(
        session,
        participant,
        "hypo_event",
        local(12, 3),
        symptoms=True,
        needed_assistance=True,
        treatment=["glucagon"],
        unconscious_or_seizure=False,
    )
    assert row.flags == ["severe_hypoglycemia"]
    kinds = {(a.kind, a.severity) for a in await alerts_of(session, participant)}
    assert kinds == {("severe_hypoglycemia", "critical"), ("dose_review_reduction", "warning")}


async def test_a_child_needing_only_help_is_not_severe(session: AsyncSession) -> None:
    study = await create_study(session)
    from datetime import date

    child = await create_participant(session, study, birth_date=date(2016, 5, 1))
    row, _ = await write(
        session,
        child,
        "hypo_event",
        local(12, 3),
        symptoms=True,
        needed_assistance=True,
        treatment=["oral_carbohydrate"],
        unconscious_or_seizure=False,
    )
    assert row.flags == []


async def test_a_meal_logged_before_a_fasting_reading_makes_it_not_fasting(session: AsyncSession) -> None:
    _, participant = await world(session)
    await write(session, participant, "meal", local(12, 1), meal_type="snack", carbs_g=20)
    # 7 h after the snack: not fasting; a reading at 140 is not judged "above range"
    row, _ = await write(
        session, participant, "glucose", local(12, 8), value=140, unit="mg/dL", context="fasting"
    )
    assert row.flags == ["fasting_after_meal"]
    # 9 h after it: fasting, and above range (> 110)
    row, _ = await write(
        session, participant, "glucose", local(12, 10), value=140, unit="mg/dL", context="fasting"
    )
    assert row.flags == ["fasting_above_range"]


async def test_postprandial_timing_comes_from_the_linked_meal(session: AsyncSession) -> None:
    _, participant = await world(session)
    meal, _ = await write(session, participant, "meal", local(12, 12), meal_type="lunch")
    # 30 min after the linked meal: mis-timed, not judged against the 140 limit
    row, _ = await write(
        session,
        participant,
        "glucose",
        local(12, 12, 30),
        value=170,
        unit="mg/dL",
        context="postprandial",
        meal_id=str(meal.id),
    )
    assert row.flags == ["postprandial_mistimed"]
    # 2 h after it (logged meal, no link): judged: 7.8 mmol/L is at the limit
    row, _ = await write(
        session, participant, "glucose", local(12, 14), value=7.8, unit="mmol/L", context="postprandial"
    )
    assert row.flags == ["postprandial_above_limit"]


async def test_voiding_the_cause_marks_the_alert_which_stays_open(session: AsyncSession) -> None:
    _, participant = await world(session)
    row, _outcome = await write(
        session, participant, "glucose", local(12, 8), value=50, unit="mg/dL", context="random"
    )
    level2 = next(a for a in await alerts_of(session, participant) if a.kind == "hypoglycemia_level_2")
    voided = await change(session, participant, row, void=True)
    assert level2.id in voided.alert_ids
    assert voided.flags == ["hypoglycemia_level_2"]  # the voided record keeps what it was judged
    await session.refresh(level2)
    assert (level2.status, level2.cause_changed) == ("open", True)
    assert level2.details["cause_changes"][0]["change"] == "voided"
    link = await session.get(AlertEntry, (level2.id, row.id))
    assert link is not None and link.cause_status == "voided"


async def test_a_corrected_value_is_recorded_on_the_alert(session: AsyncSession) -> None:
    _, participant = await world(session)
    row, _ = await write(
        session, participant, "glucose", local(12, 8), value=50, unit="mg/dL", context="random"
    )
    outcome = await change(session, participant, row, value=150)
    assert outcome.flags == []
    level2 = next(a for a in await alerts_of(session, participant) if a.kind == "hypoglycemia_level_2")
    await session.refresh(level2)
    assert level2.cause_changed and level2.status == "open"
    assert level2.details["cause_changes"][0]["change"] == "corrected"


async def test_a_corrected_note_is_not_a_changed_cause(session: AsyncSession) -> None:
    _, participant = await world(session)
    row, _ = await write(
        session, participant, "glucose", local(12, 8), value=50, unit="mg/dL", context="random"
    )
    outcome = await change(session, participant, row, note="after football")
    assert outcome.flags == ["hypoglycemia_level_2"]
    level2 = next(a for a in await alerts_of(session, participant) if a.kind == "hypoglycemia_level_2")
    await session.refresh(level2)
    # the same reading again joins nothing new and changes no cause
    assert (level2.cause_changed, level2.occurrences) == (False, 1)


async def test_three_high_fasting_days_across_dst_raise_one_basal_review(session: AsyncSession) -> None:
    _, participant = await world(session)
    # 28, 29 (the DST change) and 30 March at 00:30 local; nothing low
    for day, value in ((28, 130), (29, 140), (30, 150)):
        await write(
            session, participant, "glucose", local(day, 0, 30), value=value, unit="mg/dL", context="fasting"
        )
    [review] = [a for a in await alerts_of(session, participant) if a.category == "dose_review"]
    assert review.kind == "dose_review_basal_increase"
    assert review.details["numbers"]["mean_fasting_mg_dl"] == 140.0
    assert [r["local_date"] for r in review.details["readings"]] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    links = (
        (await session.execute(select(AlertEntry).where(col(AlertEntry.alert_id) == review.id)))
        .scalars()
        .all()
    )
    assert len(links) == 3


async def test_falling_fasting_with_a_new_low_raises_a_reduction_review(session: AsyncSession) -> None:
    _, participant = await world(session)
    # 105, 100, 92, 85, 78 mg/dL fasting on 6..10 March (in range 70-110): in-range readings read no window
    for day, value in zip(range(6, 11), (105, 100, 92, 85, 78), strict=True):
        await write(
            session, participant, "glucose", local(day, 7), value=value, unit="mg/dL", context="fasting"
        )
    assert await alerts_of(session, participant) == []
    # then a 65 at 16:00 on 10 March: new hypoglycemia (none in the 5 days before) completes the pattern;
    # a single level 1 event is not yet the 2 events of the reduction rule
    await write(session, participant, "glucose", local(10, 16), value=65, unit="mg/dL", context="random")
    kinds = sorted(a.kind for a in await alerts_of(session, participant))
    assert kinds == ["dose_review_falling_requirement", "hypoglycemia_level_1"]
    review = next(a for a in await alerts_of(session, participant) if a.category == "dose_review")
    assert review.details["numbers"]["daily_mean_fasting_mg_dl"] == [105, 100, 92, 85, 78]
    assert [r["value"] for r in review.details["readings"]] == [105, 100, 92, 85, 78, 65]


async def test_the_same_meal_high_on_three_days_raises_a_bolus_review(session: AsyncSession) -> None:
    _, participant = await world(session)
    for day in (4, 6, 9):
        await write(session, participant, "meal", local(day, 19), meal_type="dinner", carbs_g=60)
        await write(
            session,
            participant,
            "glucose",
            local(day, 20, 30),
            value=9.0,
            unit="mmol/L",
            context="postprandial",
        )
    [review] = [a for a in await alerts_of(session, participant) if a.category == "dose_review"]
    assert review.kind == "dose_review_meal_bolus"
    assert review.details["numbers"]["meal_type"] == "dinner"


async def test_the_benchs_switch_judges_nothing(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # production has no way to switch the rules off; the bench measures their cost with its own app
    # (bench/devapp.py, BENCH_WITHOUT=rules), patching the process: the patched names are restored afterwards
    from bench import devapp
    from core.diary import rejudge
    from core.diary import service as diary_service
    from core.rules import service as rules_service

    for module, name in (
        (rules_service, "_evaluate"),
        (diary_service, "rejudge_near_meal"),
        (rejudge, "rejudge_near_meal"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))
    devapp.WITHOUT["rules"](None)  # type: ignore[arg-type]
    _, participant = await world(session)
    row, outcome = await write(
        session, participant, "glucose", local(12, 8), value=40, unit="mg/dL", context="random"
    )
    assert (row.flags, outcome.alert_ids) == ([], [])


async def _counts(session: AsyncSession, participant_id: object) -> tuple[int, int, int]:
    entries = await session.scalar(
        select(func.count()).select_from(DiaryEntry).where(col(DiaryEntry.participant_id) == participant_id)
    )
    alerts = await session.scalar(
        select(func.count()).select_from(Alert).where(col(Alert.participant_id) == participant_id)
    )
    messages = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.payload)["participant_id"].as_string() == str(participant_id))
    )
    return int(entries or 0), int(alerts or 0), int(messages or 0)


async def test_a_failed_transaction_leaves_no_entry_alert_or_message(
    engine: AsyncEngine, committing_app: object
) -> None:
    # committing_app only empties the tables afterwards; the sessions here are real and commit for real
    async with AsyncSession(engine, expire_on_commit=False) as setup:
        study, participant = await world(setup)
        await create_staff(setup, study, Role.clinician)
        await setup.commit()
    async with AsyncSession(engine, expire_on_commit=False) as failing:
        _, outcome = await write(
            failing, participant, "glucose", local(12, 8), value=45, unit="mg/dL", context="random"
        )
        assert outcome.alert_ids  # raised inside the transaction ...
        await failing.rollback()  # ... which then fails
    async with AsyncSession(engine) as check:
        assert await _counts(check, participant.id) == (0, 0, 0)
    async with AsyncSession(engine, expire_on_commit=False) as working:
        await write(working, participant, "glucose", local(12, 9), value=45, unit="mg/dL", context="random")
        await working.commit()
    async with AsyncSession(engine) as check:
        # one entry; a level 2 alert and a reduction review; one message for each (one clinician), and the
        # participant's note about the level 2 reading
        assert await _counts(check, participant.id) == (1, 2, 3)


async def test_a_batch_reads_its_window_once_and_folds_its_own_repeats(session: AsyncSession) -> None:
    from core.diary.localtime import local_date
    from core.rules import service as rules_service

    _, participant = await world(session)
    rows = []
    # an offline week synced at once: fasting 7.0 mmol/L (> 6.1) on 2..6 March, and a 3.4 (level 1) on 4 March
    for day in range(2, 7):
        rows.append(
            await _unjudged(session, participant, local(day, 7), value=7.0, unit="mmol/L", context="fasting")
        )
    rows.append(
        await _unjudged(session, participant, local(4, 15), value=3.4, unit="mmol/L", context="random")
    )
    assert all(r.local_date == local_date(r.occurred_at, 60) for r in rows)
    outcomes = await rules_service.evaluate_entries(session=session, participant=participant, entries=rows)
    assert [o.flags for o in outcomes] == [["fasting_above_range"]] * 5 + [["hypoglycemia_level_1"]]
    kinds = {a.kind: a for a in await alerts_of(session, participant)}
    # the level 1 on 4 March blocks the basal review for 7 days, so the run of high days suggests nothing
    assert set(kinds) == {"hypoglycemia_level_1"}


async def test_a_batch_judges_meal_timing_as_one_by_one_does(session: AsyncSession) -> None:
    """A batch reads the participant's meals once instead of once per reading; the flags must not change.

    Each reading below is hand-worked against the defaults (fasting: no meal in the 8 h before; postprandial:
    judged 60-180 min after the meal start, limit < 140 mg/dL):
    """
    from core.rules import service as rules_service

    study = await create_study(session)
    one_by_one = await create_participant(session, study)
    batched = await create_participant(session, study)
    old_meal = {p.id: await _meal(session, p, local(1, 12)) for p in (one_by_one, batched)}
    cases = [
        # (kind, local time, data, expected flags)
        ("meal", local(9, 7), {"meal_type": "breakfast", "carbs_g": 50}, []),
        # 90 min after the 07:00 breakfast, 150 mg/dL: judged, above the limit
        (
            "glucose",
            local(9, 8, 30),
            {"value": 150, "unit": "mg/dL", "context": "postprandial"},
            ["postprandial_above_limit"],
        ),
        # 10 min after it: outside the window, not judged
        (
            "glucose",
            local(9, 7, 10),
            {"value": 150, "unit": "mg/dL", "context": "postprandial"},
            ["postprandial_mistimed"],
        ),
        # "fasting" 5 h after breakfast: a meal in the 8 h before, flagged and not judged as fasting
        (
            "glucose",
            local(9, 12),
            {"value": 95, "unit": "mg/dL", "context": "fasting"},
            ["fasting_after_meal"],
        ),
        # fasting 9 h after breakfast, 120 mg/dL: a true fasting value above 110
        (
            "glucose",
            local(9, 16),
            {"value": 120, "unit": "mg/dL", "context": "fasting"},
            ["fasting_above_range"],
        ),
        # linked to the meal of 1 March, far outside the batch's span: 8 days later is mistimed
        (
            "glucose",
            local(9, 18),
            {"value": 120, "unit": "mg/dL", "context": "postprandial", "meal_id": "OLD"},
            ["postprandial_mistimed"],
        ),
    ]
    flags: dict[str, list[list[str]]] = {"one_by_one": [], "batched": []}
    rows = []
    for kind, at, data, _ in cases:
        data = {k: (str(old_meal[one_by_one.id]) if v == "OLD" else v) for k, v in data.items()}
        _row, outcome = await write(session, one_by_one, kind, at, **data)
        flags["one_by_one"].append(outcome.flags)
    for kind, at, data, _ in cases:
        data = {k: (str(old_meal[batched.id]) if v == "OLD" else v) for k, v in data.items()}
        rows.append(await new_row(session, batched, kind, at, **data))
    outcomes = await rules_service.evaluate_entries(session=session, participant=batched, entries=rows)
    flags["batched"] = [o.flags for o in outcomes]
    expected = [case[3] for case in cases]
    assert flags == {"one_by_one": expected, "batched": expected}


async def _meal(session: AsyncSession, participant: Participant, at: datetime) -> object:
    return (await new_row(session, participant, "meal", at, meal_type="lunch", carbs_g=60)).id


async def _unjudged(
    session: AsyncSession, participant: Participant, at: datetime, **data: object
) -> DiaryEntry:
    from tests.core.rules.diary_rows import new_row

    return await new_row(session, participant, "glucose", at, **data)


async def test_a_suggestion_gathers_evidence_until_a_clinician_decides(session: AsyncSession) -> None:
    _, participant = await world(session)
    for day in range(2, 7):  # 2..6 March above range: the pattern holds on 4, 5 and 6 March
        await write(
            session, participant, "glucose", local(day, 7), value=130, unit="mg/dL", context="fasting"
        )
    [review] = await alerts_of(session, participant)
    # one suggestion, joined on 5 and 6 March (more than the 24 h safety fold apart), showing the newest days
    assert (review.kind, review.occurrences) == ("dose_review_basal_increase", 3)
    assert [r["local_date"] for r in review.details["readings"]] == ["2026-03-04", "2026-03-05", "2026-03-06"]
    review.decision, review.status = "no_change", "resolved"
    await session.flush()
    await write(session, participant, "glucose", local(7, 7), value=130, unit="mg/dL", context="fasting")
    assert sorted(a.occurrences for a in await alerts_of(session, participant)) == [1, 3]


async def test_open_alert_count_per_participant(session: AsyncSession) -> None:
    from core.rules.lifecycle import open_alert_count
    from tests.core.rules.diary_rows import create_alert

    study, participant = await world(session)
    other = await create_participant(session, study)
    await create_alert(session, participant)
    await create_alert(session, participant, status="acknowledged")
    await create_alert(session, participant, status="resolved")
    rows = await session.execute(
        select(Participant.id, open_alert_count()).where(col(Participant.id).in_([participant.id, other.id]))
    )
    assert {pid: n for pid, n in rows.all()} == {participant.id: 2, other.id: 0}
