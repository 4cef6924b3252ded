"""Every range of an entry: its bounds accepted, one step past them refused with the field, value and range."""

from __future__ import annotations

from typing import Any

import pytest

from core.diary.parsing import canonical_hash, parse_entry
from core.errors import InvalidInput
from tests.factories import entry_body

# (kind, field, accepted bounds, one step past them, extra fields)
BOUNDS: list[tuple[str, str, tuple[Any, ...], tuple[Any, ...], dict[str, Any]]] = [
    ("glucose", "value", (10, 600), (9.9, 600.1), {"unit": "mg/dL"}),
    ("glucose", "value", (0.6, 33.3), (0.5, 33.4), {"unit": "mmol/L"}),
    ("glucose", "minutes_after_meal", (0, 360), (-1, 361), {"context": "postprandial"}),
    ("insulin", "units", (0, 0.01, 150), (-0.01, 150.1), {}),  # SPEC: 0-150 IU a dose (0: a dose skipped)
    ("exercise", "duration_min", (1, 720), (0, 721), {}),
    ("meal", "carbs_g", (0, 500), (-0.1, 500.1), {}),
    ("illness", "ketones_mmol_l", (0, 10), (-0.1, 10.1), {}),
    ("weight", "kg", (5, 250), (4.9, 250.1), {}),
]


@pytest.mark.parametrize(("kind", "field", "accepted", "refused", "extra"), BOUNDS)
def test_bounds_are_accepted_and_one_step_past_is_refused(
    kind: str, field: str, accepted: tuple[Any, ...], refused: tuple[Any, ...], extra: dict[str, Any]
) -> None:
    for value in accepted:
        entry = parse_entry(entry_body(kind, **extra, **{field: value}))
        assert getattr(entry, field) == value
    for value in refused:
        with pytest.raises(InvalidInput) as raised:
            parse_entry(entry_body(kind, **extra, **{field: value}))
        [problem] = raised.value.fields
        assert problem.path == field
        assert f"{field} {value:g}" in problem.message and "outside the allowed range" in problem.message


def test_glucose_range_message_names_the_unit_it_was_entered_in() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_entry(entry_body(value=35, unit="mmol/L"))
    assert raised.value.fields[0].message == (
        "value 35 mmol/L is outside the allowed range 0.6-33.3 mmol/L (10-600 mg/dL)"
    )


def test_an_illness_must_end_after_it_started() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_entry(entry_body("illness", ended_at="2026-03-02T07:30:00+01:00"))
    assert raised.value.fields[0].path == "ended_at"
    assert parse_entry(entry_body("illness", ended_at="2026-03-05T07:30:00+01:00"))


@pytest.mark.parametrize(
    "kind", ["glucose", "insulin", "meal", "exercise", "illness", "hypo_event", "weight"]
)
def test_every_kind_refuses_unknown_fields_and_times_without_offset(kind: str) -> None:
    assert parse_entry(entry_body(kind)).kind == kind  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as raised:
        parse_entry(entry_body(kind, occurred_at="2026-03-02T07:30:00", extra_field=1))
    assert {p.path for p in raised.value.fields} == {"occurred_at", "extra_field"}


def test_hypo_event_treatment_is_from_the_list() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_entry(entry_body("hypo_event", treatment=["juice"]))
    assert raised.value.fields[0].path == "treatment.0"


def test_the_same_entry_in_another_key_order_hashes_the_same() -> None:
    body = entry_body(value=5.8, unit="mmol/L")
    shuffled = dict(reversed(list(body.items())))
    assert canonical_hash(parse_entry(body)) == canonical_hash(parse_entry(shuffled))
    assert canonical_hash(parse_entry(body)) != canonical_hash(parse_entry({**body, "value": 5.9}))
