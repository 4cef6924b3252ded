"""The episode detector against hand-worked diaries (CLINICAL.md A2), each case written out beside its input."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from core.episodes.detect import (
    ASYMPTOMATIC,
    DOCUMENTED_SYMPTOMATIC,
    PROBABLE_SYMPTOMATIC,
    PSEUDO_HYPOGLYCEMIA,
    SEVERE,
    UNCONFIRMED,
    Episode,
    HypoEvent,
    Reading,
    detect,
)
from core.protocol import DEFAULT_PROTOCOL, ProtocolSettings, with_overrides

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
ADULT = date(1990, 1, 1)
CHILD = date(2016, 6, 1)  # 9 years old in March 2026


def r(minute: float, value: float, unit: str = "mg/dL") -> Reading:
    at = T0 + timedelta(minutes=minute)
    mg = value if unit == "mg/dL" else round(value * 18.016, 1)
    return Reading(uuid.uuid4(), at, at.date(), value, unit, mg)


def ev(minute: float, **fields: object) -> HypoEvent:
    at = T0 + timedelta(minutes=minute)
    values: dict[str, object] = {"symptoms": True}
    values.update(fields)
    return HypoEvent(uuid.uuid4(), at, at.date(), **values)  # type: ignore[arg-type]


def run(
    readings: list[Reading],
    events: list[HypoEvent] | None = None,
    *,
    birth: date = ADULT,
    protocol: ProtocolSettings = DEFAULT_PROTOCOL,
) -> list[Episode]:
    return detect(readings, events or [], birth_date=birth, protocol=protocol)


def counted(episodes: list[Episode]) -> list[Episode]:
    return [e for e in episodes if e.counted]


def test_rule_of_15_rechecks_are_one_episode() -> None:
    # 0': 62 (L1 opens) -> treat -> 15': 66 (still low, joins) -> 30': 74 (above) -> 40': 68 (low 10' after the
    # rise, within the 15' separation: same episode) -> 55': 95 (above), nothing after: ends at 40'.
    readings = [r(0, 62), r(15, 66), r(30, 74), r(40, 68), r(55, 95)]
    [episode] = run(readings)
    assert (episode.start, episode.end) == (T0, T0 + timedelta(minutes=40))
    assert episode.level == 1
    assert (episode.nadir_value, episode.nadir_unit, episode.nadir_mg_dl) == (62, "mg/dL", 62)
    # the 74 re-check inside the episode belongs to it; the 95 that ended it does not
    assert episode.readings == 4
    assert episode.entry_ids == tuple(x.entry_id for x in readings[:4])
    assert episode.category == ASYMPTOMATIC  # measured low, no symptoms reported


def test_back_above_for_longer_than_the_separation_starts_a_new_episode() -> None:
    # 0': 60; 10': 80 (rise); 26': 65 -> 16' after the rise > 15': a second episode; 30': 50 joins it (L2).
    episodes = run([r(0, 60), r(10, 80), r(26, 65), r(30, 50)])
    assert [(e.start, e.level, e.readings) for e in episodes] == [
        (T0, 1, 1),
        (T0 + timedelta(minutes=26), 2, 2),
    ]
    # exactly 15' after the rise is still within the separation
    assert len(run([r(0, 60), r(10, 80), r(25, 65)])) == 1


def test_a_long_gap_between_lows_opens_a_new_episode() -> None:
    # 0': 60, 120': 62 (no reading between, exactly the 120' maximum gap: same), 241': 61 (121' later: new)
    episodes = run([r(0, 60), r(120, 62), r(241, 61)])
    assert [(e.start, e.end, e.readings) for e in episodes] == [
        (T0, T0 + timedelta(minutes=120), 2),
        (T0 + timedelta(minutes=241), T0 + timedelta(minutes=241), 1),
    ]


def test_event_within_the_link_minutes_attaches_and_one_outside_stands_alone() -> None:
    # episode 0'-15' (58, 64); symptoms reported at 70' (55' after its end: attaches -> documented symptomatic);
    # another report at 200' (far from any reading, no measurement): probable symptomatic, level 1.
    readings = [r(0, 58), r(15, 64)]
    near, far = ev(70), ev(200)
    first, second = run(readings, [near, far])
    assert first.category == DOCUMENTED_SYMPTOMATIC and first.event_ids == (near.entry_id,)
    assert first.level == 1 and first.readings == 2
    assert second.category == PROBABLE_SYMPTOMATIC
    assert (second.start, second.level, second.readings, second.nadir_value) == (
        T0 + timedelta(minutes=200),
        1,
        0,
        None,
    )
    # 61' after the end is outside the 60' link
    alone = run(readings, [ev(76)])
    assert [e.category for e in alone] == [ASYMPTOMATIC, PROBABLE_SYMPTOMATIC]


def test_an_adult_who_needed_help_has_a_severe_level_3_episode() -> None:
    # 0': 48 mg/dL (L2); the event 10' before says another person had to give sugar: level 3, severe
    help = ev(-10, needed_assistance=True, treatment=("oral_carbohydrate",))
    [episode] = run([r(0, 48)], [help])
    assert (episode.level, episode.category, episode.needed_assistance) == (3, SEVERE, True)


def test_a_child_needing_help_alone_is_not_level_3_but_a_seizure_is() -> None:
    # a 9-year-old needed help with oral sugar: recorded, but level 3 needs altered consciousness, a seizure or
    # glucagon / emergency services (ISPAD, protocol child_age_years 18)
    help_only = ev(5, needed_assistance=True, treatment=("oral_carbohydrate",))
    [episode] = run([r(0, 50)], [help_only], birth=CHILD)
    assert (episode.level, episode.category, episode.needed_assistance) == (2, DOCUMENTED_SYMPTOMATIC, True)
    seizure = ev(5, needed_assistance=True, unconscious_or_seizure=True)
    [severe] = run([r(0, 50)], [seizure], birth=CHILD)
    assert (severe.level, severe.category) == (3, SEVERE)
    glucagon = ev(5, needed_assistance=True, treatment=("glucagon",))
    assert run([], [glucagon], birth=CHILD)[0].category == SEVERE
    # with the protocol's cut-off lowered to 8 years, the 9-year-old is judged as an adult
    older = with_overrides(DEFAULT_PROTOCOL, {"episodes": {"child_age_years": 8}})
    assert run([r(0, 50)], [help_only], birth=CHILD, protocol=older)[0].level == 3


def test_symptoms_with_a_normal_measured_value_are_pseudo_hypoglycemia_not_counted() -> None:
    # symptoms at 0', the linked reading says 82 mg/dL: pseudo-hypoglycemia (reported, not an episode)
    normal = r(0, 82)
    event = ev(1, glucose_entry_id=normal.entry_id)
    [report] = run([normal], [event])
    assert (report.category, report.counted, report.nadir_value) == (PSEUDO_HYPOGLYCEMIA, False, 82)
    # no symptoms, no help, no measurement: nothing backs it up
    [unconfirmed] = run([], [ev(0, symptoms=False)])
    assert (unconfirmed.category, unconfirmed.counted) == (UNCONFIRMED, False)


def test_mmol_per_litre_is_judged_in_its_own_unit() -> None:
    # 3.0 mmol/L is not below 3.0 (level 1, although 3.0 x 18.016 = 54.05 mg/dL); 2.9 is level 2;
    # 3.9 is not low with the default `<`, and is with `<=`
    assert run([r(0, 3.0, "mmol/L")])[0].level == 1
    assert run([r(0, 2.9, "mmol/L")])[0].level == 2
    assert run([r(0, 3.9, "mmol/L")]) == []
    le = with_overrides(DEFAULT_PROTOCOL, {"glucose": {"hypo_comparison": "<="}})
    [episode] = run([r(0, 3.9, "mmol/L")], protocol=le)
    assert (episode.nadir_value, episode.nadir_unit, episode.nadir_mg_dl) == (3.9, "mmol/L", 70.3)
    # 54 mg/dL is level 1 in mg/dL (54 / 18.016 = 2.997 would have read as level 2)
    assert run([r(0, 54)])[0].level == 1


def test_every_parameter_comes_from_the_protocol() -> None:
    wide = with_overrides(
        DEFAULT_PROTOCOL,
        {"episodes": {"separation_minutes": 30, "max_gap_minutes": 60, "event_link_minutes": 10}},
    )
    # rise at 10', low at 35': 25' later -> one episode with a 30' separation (two with the default 15')
    assert len(run([r(0, 60), r(10, 80), r(35, 65)], protocol=wide)) == 1
    assert len(run([r(0, 60), r(10, 80), r(35, 65)])) == 2
    # 61' between two lows with nothing between: two episodes with a 60' maximum gap
    assert len(run([r(0, 60), r(61, 60)], protocol=wide)) == 2
    # an event 20' after the episode: outside a 10' link
    assert [e.category for e in run([r(0, 60)], [ev(20)], protocol=wide)] == [
        ASYMPTOMATIC,
        PROBABLE_SYMPTOMATIC,
    ]


def test_an_event_linked_to_a_low_reading_joins_that_reading_s_episode_whatever_the_time() -> None:
    # the event was entered 3 h late, naming the 52 mg/dL reading it was about
    low = r(0, 52)
    event = ev(180, glucose_entry_id=low.entry_id)
    [episode] = run([low], [event])
    assert (episode.category, episode.event_ids) == (DOCUMENTED_SYMPTOMATIC, (event.entry_id,))


def test_mixed_units_pick_the_nadir_by_canonical_value() -> None:
    # 3.2 mmol/L (57.7 mg/dL) and 58 mg/dL in one episode: the nadir is the mmol/L reading, as entered
    [episode] = run([r(0, 58), r(10, 3.2, "mmol/L")])
    assert (episode.nadir_value, episode.nadir_unit) == (3.2, "mmol/L")
    assert counted([episode]) == [episode]
