"""Property: the detector agrees with a plain count of CLINICAL.md A2's definitions on drawn diaries."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.episodes.detect import SEVERE, HypoEvent, Reading, detect
from core.protocol import DEFAULT_PROTOCOL
from tests.core.episodes.plain import plain_episodes

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

# mg/dL values near the thresholds (54, 70) and mmol/L ones near theirs (3.0, 3.9)
mg = st.sampled_from([40, 53, 54, 55, 69, 70, 71, 90]).map(lambda v: (float(v), "mg/dL"))
mmol = st.sampled_from([2.5, 2.9, 3.0, 3.1, 3.8, 3.9, 4.0, 5.5]).map(lambda v: (v, "mmol/L"))
readings_st = st.lists(
    st.tuples(st.integers(0, 1500), st.one_of(mg, mmol)), max_size=40, unique_by=lambda x: x[0]
)
events_st = st.lists(st.tuples(st.integers(0, 1500), st.booleans(), st.booleans()), max_size=6)


@settings(max_examples=300, deadline=None)
@given(readings_st, events_st)
def test_detector_matches_a_plain_count(readings: list, events: list) -> None:
    diary = [
        Reading(
            uuid.uuid4(),
            T0 + timedelta(minutes=m),
            date(2026, 3, 2),
            v,
            u,
            v if u == "mg/dL" else v * 18.016,
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
    plain = plain_episodes(readings, events)
    assert sorted((e.start, e.level, e.category == SEVERE) for e in episodes) == sorted(
        (T0 + timedelta(minutes=p.start), p.level, p.severe) for p in plain
    )
