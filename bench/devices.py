"""wrk scenarios of the service without one of its speed devices (or without its rules), each measured side
by side with the scenario it is compared with, runs interleaved (bench/measure.py; bench/devapp.py switches
the device off).

The comparisons and the verdict (a device stays when it gains more than 10 %) are in bench/targets.py.
"""

from __future__ import annotations

import dataclasses

from bench.scenarios import (
    DIARY_SERVER,
    RunContext,
    Scenario,
    ServerSpec,
    _glucodiary_migrate,
    _glucodiary_unavailable,
)


def without(name: str) -> ServerSpec:
    """The diary scenarios' server (pool held at 20) through bench.devapp with BENCH_WITHOUT=name."""

    def command(ctx: RunContext, port: int) -> list[str]:
        return [ctx.python, "-m", "bench.devapp", "--port", str(port), "--workers", "1"]

    return ServerSpec(
        name=f"bench.devapp without {name}",
        command=command,
        env=lambda ctx: {**DIARY_SERVER.env(ctx), "BENCH_WITHOUT": name},
        unavailable=_glucodiary_unavailable,
        prepare=_glucodiary_migrate,
    )


# (the scenario compared with, the device switched off, the new scenario's name, what it measures)
VARIANTS = (
    ("diary_post", "rules", "diary_post_norules", "diary_post with the protocol rules off (their cost)"),
    (
        "diary_list",
        "unvalidated_answers",
        "diary_list_validated",
        "diary_list validated and serialised by pydantic at run time",
    ),
    (
        "diary_changes",
        "unvalidated_answers",
        "diary_changes_validated",
        "diary_changes validated and serialised by pydantic at run time",
    ),
)


BASE_OF = {name: base for base, _, name, _ in VARIANTS}  # variant -> the scenario it is measured beside


def with_devices(scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios, each followed by its variants without a device."""
    out: list[Scenario] = []
    for scenario in scenarios:
        out.append(scenario)
        for base, device, name, description in VARIANTS:
            if base == scenario.name:
                out.append(
                    dataclasses.replace(scenario, name=name, server=without(device), description=description)
                )
    return out
