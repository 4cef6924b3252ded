"""Every figure against its target (issue 13), printed at the end of `make bench` and kept in latest.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.report import ScenarioResult

STAYS_ABOVE = 0.10  # a speed device that gains more than this on its scenario earns its code (issue 9)


@dataclass(frozen=True)
class Check:
    what: str
    figure: str
    target: str
    met: bool | None  # None: not measured, or a figure without a target

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "-"}[self.met]


@dataclass
class Checks:
    items: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # raw figures for latest.json

    def add(self, what: str, figure: str, target: str = "", met: bool | None = None) -> None:
        self.items.append(Check(what, " ".join(figure.split()), target, met))

    def ratio(self, what: str, value: float | None, base: float | None, limit: float, above: bool) -> None:
        """value / base against a limit (at least `limit` when `above`, else at most)."""
        if value is None or not base:
            self.add(what, "not measured", f"{'>=' if above else '<='} {limit:g}", None)
            return
        ratio = value / base
        met = ratio >= limit if above else ratio <= limit
        self.add(what, f"{ratio:.2f} ({value:.1f} / {base:.1f})", f"{'>=' if above else '<='} {limit:g}", met)

    def table(self) -> str:
        rows = [("figure", "measured", "target", "")] + [
            (c.what, c.figure, c.target, c.verdict) for c in self.items
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["Figures against their targets (issue 13):"]
        for index, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        missed = [c.what for c in self.items if c.met is False]
        lines.append(f"{len(missed)} target(s) missed" + (f": {', '.join(missed)}" if missed else ""))
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"checks": [asdict(c) for c in self.items], **self.figures}


# (device, scenario with it, scenario without it): measured with wrk in the same invocation (bench/devapp.py)
DEVICES = (
    ("answers sent unvalidated (api/diary_answers.py): list", "diary_list", "diary_list_validated"),
    ("answers sent unvalidated (api/diary_answers.py): changes", "diary_changes", "diary_changes_validated"),
    ("the protocol rules themselves (not a device: their cost)", "diary_post", "diary_post_norules"),
)


def wrk_checks(checks: Checks, results: list[ScenarioResult], paired: dict[str, ScenarioResult]) -> None:
    """Targets on the closed-loop (wrk) scenarios: capacities against stack_floor, the devices' gains (each
    variant against its base scenario measured beside it, `paired`, else against the base's own row)."""
    by_name = {r.name: r for r in results if r.measured}
    floor = by_name.get("stack_floor")
    for name in ("diary_post", "diary_list"):
        mine = by_name.get(name)
        if mine is None and floor is None:
            continue  # neither asked for in this invocation
        checks.ratio(
            f"{name} capacity / stack_floor's (wrk, 32 connections)",
            mine.rps if mine else None,
            floor.rps if floor else None,
            0.4,
            above=True,
        )
    devices = []
    for device, on_name, off_name in DEVICES:
        on, off = paired.get(off_name, by_name.get(on_name)), by_name.get(off_name)
        if on is not None and not on.measured:
            on = None
        if on is None or off is None:
            continue
        gain = on.rps / off.rps - 1
        devices.append(
            {
                "device": device,
                "with": on_name,
                "without": off_name,
                "rps_with": on.rps,
                "rps_without": off.rps,
                "p50_with_ms": on.p50_ms,
                "p50_without_ms": off.p50_ms,
                "gain": gain,
            }
        )
        stays = "stays" if gain > STAYS_ABOVE else "candidate for removal"
        if "rules" in device and "themselves" in device:
            stays = "their cost, not a device"
        checks.add(
            f"device: {device}",
            f"{on.rps:.0f} req/s with, {off.rps:.0f} without: {100 * gain:+.0f} % "
            f"(p50 {on.p50_ms:.2f} vs {off.p50_ms:.2f} ms)",
            f"> +{100 * STAYS_ABOVE:.0f} % to stay: {stays}",
            None,
        )
    checks.figures["devices"] = devices
