"""A plain count of CLINICAL.md A2 for property tests, written apart from the detector: "a low reading starts
an episode when ...", then each event by its distance to the episodes (default protocol, adults, no links)."""

from __future__ import annotations

from dataclasses import dataclass

from core.protocol import DEFAULT_PROTOCOL

SEPARATION = DEFAULT_PROTOCOL.episodes.separation_minutes
MAX_GAP = DEFAULT_PROTOCOL.episodes.max_gap_minutes
LINK = DEFAULT_PROTOCOL.episodes.event_link_minutes


@dataclass
class PlainEpisode:
    start: int  # minutes
    end: int
    level: int
    severe: bool = False


def plain_level(value: float, unit: str) -> int:
    """A1 by hand: mg/dL < 54 -> 2, < 70 -> 1; mmol/L < 3.0 -> 2, < 3.9 -> 1."""
    level2, level1 = (54, 70) if unit == "mg/dL" else (3.0, 3.9)
    return 2 if value < level2 else 1 if value < level1 else 0


def plain_episodes(
    readings: list[tuple[int, tuple[float, str]]], events: list[tuple[int, bool, bool]]
) -> list[PlainEpisode]:
    """Counted episodes: readings (minute, (value, unit)) and events (minute, symptoms, needed help)."""
    spans: list[PlainEpisode] = []
    previous_low: int | None = None
    first_high: int | None = None
    for minute, (value, unit) in sorted(readings):
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
            spans.append(PlainEpisode(minute, minute, level))
        else:
            spans[-1].end = minute
            spans[-1].level = max(spans[-1].level, level)
        previous_low, first_high = minute, None
    alone: list[PlainEpisode] = []
    for minute, symptoms, help_needed in events:
        near = sorted((max(s.start - minute, minute - s.end, 0), i) for i, s in enumerate(spans))
        if near and near[0][0] <= LINK:
            if help_needed:
                spans[near[0][1]].severe = True
        elif help_needed:
            alone.append(PlainEpisode(minute, minute, 3, severe=True))
        elif symptoms:
            alone.append(PlainEpisode(minute, minute, 1))
    for span in spans:
        if span.severe:
            span.level = 3
    return spans + alone
