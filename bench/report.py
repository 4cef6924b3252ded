"""Results of a benchmark run: medians, ratios to the baseline, the printed table and latest.json."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunFigures:
    rps: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float | None  # the server's VmHWM over this run (reset before it when the kernel allows)
    requests: int
    errors: dict[str, int]


@dataclass
class ScenarioResult:
    name: str
    description: str
    server: str
    status: str = "ok"  # ok, skipped (could not run) or failed (broke midway)
    message: str | None = None
    startup_peak_rss_mib: float | None = None  # VmHWM from start through warm-up
    runs: list[RunFigures] = field(default_factory=list)

    @property
    def measured(self) -> bool:
        return bool(self.runs)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def peak_rss_mib(self) -> float | None:
        figures = [r.peak_rss_mib for r in self.runs if r.peak_rss_mib is not None]
        if self.startup_peak_rss_mib is not None:
            figures.append(self.startup_peak_rss_mib)
        return max(figures) if figures else None

    def summary(self, baseline: ScenarioResult | None) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "rps_median": self.rps,
            "p50_ms_median": self.p50_ms,
            "p99_ms_median": self.p99_ms,
            "peak_rss_mib": self.peak_rss_mib,
        }
        if baseline is not None and baseline.measured:
            figures["rps_vs_baseline"] = _ratio(self.rps, baseline.rps)
            figures["p99_vs_baseline"] = _ratio(self.p99_ms, baseline.p99_ms)
            figures["rss_vs_baseline"] = _ratio(self.peak_rss_mib, baseline.peak_rss_mib)
        return figures


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


COLUMNS = (
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "peak RSS MiB",
    "req/s vs base",
    "p99 vs base",
    "RSS vs base",
)


def table(results: list[ScenarioResult], baseline: ScenarioResult | None, runs: int) -> str:
    rows: list[tuple[str, ...]] = [COLUMNS]
    notes = []
    for result in results:
        if not result.measured:
            rows.append((result.name, *(["-"] * 7)))
            notes.append(f"  {result.name}: {result.status}: {result.message}")
            continue
        s = result.summary(baseline)
        rows.append(
            (
                result.name,
                f"{s['rps_median']:.0f}",
                _fmt(s["p50_ms_median"]),
                _fmt(s["p99_ms_median"]),
                _fmt(s["peak_rss_mib"], 1),
                _fmt(s.get("rps_vs_baseline")),
                _fmt(s.get("p99_vs_baseline")),
                _fmt(s.get("rss_vs_baseline")),
            )
        )
        if result.message:
            notes.append(f"  {result.name}: {result.status}: {result.message}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [f"Medians of {runs} run(s) per scenario; ratios divide by the baseline of this same run."]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("Individual runs (req/s | p50 ms | p99 ms | peak RSS MiB):")
    for result in results:
        if result.measured:
            lines.append(
                f"  {result.name}: "
                + "; ".join(
                    f"{r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {_fmt(r.peak_rss_mib, 1)}"
                    for r in result.runs
                )
            )
    lines += _items_lines(results)
    lines += _rules_lines(results)
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def _items_lines(results: list[ScenarioResult]) -> list[str]:
    """Scenarios that send many entries per request: entries/s, against the single-entry POST."""
    from bench.scenarios import ITEMS_PER_REQUEST

    by_name = {r.name: r for r in results if r.measured}
    single = by_name.get("diary_post")
    lines = []
    for name, items in ITEMS_PER_REQUEST.items():
        if name in by_name:
            rate = by_name[name].rps * items
            versus = f", {rate / single.rps:.1f} x diary_post's entries/s" if single else ""
            lines.append(f"  {name}: {rate:.0f} entries/s (req/s x {items}){versus}")
    return ["", "Entries per second:", *lines] if lines else []


def _rules_lines(results: list[ScenarioResult]) -> list[str]:
    """The rules' cost on the single POST: diary_post (rules on) against diary_post_norules, same invocation."""
    by_name = {r.name: r for r in results if r.measured}
    on, off = by_name.get("diary_post"), by_name.get("diary_post_norules")
    if on is None or off is None or not off.p50_ms or not off.rps:
        return []
    return [
        "",
        "The rules' cost (diary_post against diary_post_norules):",
        f"  p50 {on.p50_ms:.2f} ms against {off.p50_ms:.2f} ms: {100 * (on.p50_ms / off.p50_ms - 1):+.0f} %;"
        f" req/s {on.rps:.0f} against {off.rps:.0f}: {100 * (on.rps / off.rps - 1):+.0f} %",
    ]


def write_json(
    path: Path, results: list[ScenarioResult], baseline: ScenarioResult | None, meta: dict[str, Any]
) -> None:
    document = {
        **meta,
        "scenarios": [{**asdict(r), **(r.summary(baseline) if r.measured else {})} for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
