"""Glucose units: the canonical mg/dL value kept beside the value as entered (CLINICAL.md A1)."""

from __future__ import annotations

MG_DL = "mg/dL"
MMOL_L = "mmol/L"
MG_DL_PER_MMOL_L = 18.016

# the range meters report; outside it an entry is refused (CLINICAL.md A1)
PLAUSIBLE = {MG_DL: (10.0, 600.0), MMOL_L: (0.6, 33.3)}


def to_mg_dl(value: float, unit: str, factor: float = MG_DL_PER_MMOL_L) -> float:
    """The canonical mg/dL value for aggregation; never used to classify (that compares in the entered unit)."""
    if unit == MG_DL:
        return float(value)
    if unit == MMOL_L:
        return round(value * factor, 3)
    raise ValueError(f"unknown glucose unit {unit!r}")
