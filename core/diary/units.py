"""Glucose units: the canonical mg/dL value kept beside the value as entered (CLINICAL.md A1)."""

from __future__ import annotations

MG_DL = "mg/dL"
MMOL_L = "mmol/L"

# the range meters report; outside it an entry is refused (CLINICAL.md A1)
PLAUSIBLE = {MG_DL: (10.0, 600.0), MMOL_L: (0.6, 33.3)}


def to_mg_dl(value: float, unit: str, factor: float) -> float:
    """The canonical mg/dL value for aggregation; never used to classify (that compares in the entered unit).

    `factor`: mg/dL per mmol/L, always the study protocol's (`glucose.mg_dl_per_mmol_l`): one factor per study.
    """
    if unit == MG_DL:
        return float(value)
    if unit == MMOL_L:
        return round(value * factor, 3)
    raise ValueError(f"unknown glucose unit {unit!r}")
