"""Property: the detector agrees with a plain count of CLINICAL.md A2's definitions on drawn diaries."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.episodes.detect import SEVERE, HypoEvent, Reading, detect
from core.protocol import DEFAULT_PROTOCOL

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SEPARATION = DEFAULT_PROTOCOL.episodes.separation_minutes
MAX_GAP = DEFAULT_PROTOCOL.episodes.max_gap_minutes
LINK = DEFAULT_PROTOCOL.episodes.event_link_minutes

# mg/dL values near the thresholds (54, 70) and mmol/L ones near theirs (3.0, 3.9)
mg = st.sampled_from([40, 53, 54, 55, 69, 70, 71, 90]).map(lambda v: (float(v), "mg/dL"))
mmol = st.sampled_from([2.5, 2.9, 3.0, 3.1, 3.8, 3.9, 4.0, 5.5]).map(lambda v: (v, "mmol/L"))
readings_st = st.lists(
    st.tuples(st.integers(0, 1500), st.one_of(mg, mmol)), max_size=40, unique_by=lambda x: x[0]
)
events_st = st.lists(st.tuples(st.integers(0, 1500), st.booleans(), st.booleans()), max_size=6)


def plain_level(value: float, unit: str) -> int:
    """A1 by hand: mg/dL < 54 -> 2, < 70 -> 1; mmol/L < 3.0 -> 2, < 3.9 -> 1."""
    level2, level1 = (54, 70) if unit == "mg/dL" else (3.0, 3.9)
    return 2 if value < level2 else 1 if value < level1 else 0


def plain_counts(readings: list[tuple[int, tuple[float, str]]], events: list[tuple[int, bool, bool]]) -> dict:
    """Episode starts, written as "a low reading starts an episode when ...", then events by distance."""
    ordered = sorted(readings)
    spans: list[list[int]] = []  # [start, end, worst level]
    previous_low: int | None = None
    first_high: int | None = None
    for minute, (value, unit) in ordered:
        level = plain_level(value, unit)
        if level == 0:
            if previous_low is not None and first_high is None:
                first_high = minute
            continue
        starts = (
            previous_low is None
            or (first_high is not None and minute - first_high > SEPARATION)
            or (first_high is None and minute - previous_low > MAX_GAP)
        )
        if starts:
            spans.append([minute, minute, level])
        else:
            spans[-1][1] = minute
            spans[-1][2] = max(spans[-1][2], level)
        previous_low, first_high = minute, None
    severe_spans: set[int] = set()
    alone_counted = alone_severe = 0
    for minute, symptoms, help_needed in events:
        distances = [(max(start - minute, minute - end, 0), i) for i, (start, end, _) in enumerate(spans)]
        near = [d for d in distances if d[0] <= LINK]
        if near:
            if help_needed:
                severe_spans.add(min(near)[1])
        elif help_needed:
            alone_counted, alone_severe = alone_counted + 1, alone_severe + 1
        elif symptoms:
            alone_counted += 1
    return {
        "episodes": len(spans) + alone_counted,
        "level_2": sum(1 for i, s in enumerate(spans) if s[2] == 2 and i not in severe_spans),
        "severe": len(severe_spans) + alone_severe,
    }


@settings(max_examples=300, deadline=None)
@given(readings_st, events_st)
def test_detector_matches_a_plain_count(readings: list, events: list) -> None:
    diary = [
        Reading(
            uuid.uuid4(), T0 + timedelta(minutes=m), date(2026, 3, 2), v, u, v if u == "mg/dL" else v * 18.016
        )
        for m, (v, u) in readings
    ]
    reports = [
        HypoEvent(uuid.uuid4(), T0 + timedelta(minutes=m), date(2026, 3, 2), symptoms=s, needed_assistance=h)
        for m, s, h in events
    ]
    episodes = [
        e for e in detect(diary, reports, birth_date=date(1980, 1, 1), protocol=DEFAULT_PROTOCOL) if e.counted
    ]
    found = {
        "episodes": len(episodes),
        "level_2": sum(1 for e in episodes if e.level == 2),
        "severe": sum(1 for e in episodes if e.category == SEVERE),
    }
    assert found == plain_counts(readings, events)
