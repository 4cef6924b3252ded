"""Visit lab results (pure): plausible ranges, and the derived values of CLINICAL.md A3 (HbA1c IFCC, CPGR,
BMI, IDAA1c)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.diary.units import MG_DL, MMOL_L, PLAUSIBLE, to_mg_dl
from core.errors import FieldProblem, InvalidInput


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str


# What a lab or a clinic scale can report; outside it the value is refused with the range named.
RANGES: dict[str, Range] = {
    "hba1c_percent": Range(3.0, 20.0, "%"),
    "c_peptide_fasting_ng_ml": Range(0.0, 20.0, "ng/mL"),
    "c_peptide_stimulated_ng_ml": Range(0.0, 30.0, "ng/mL"),
    "glucose_fasting_mg_dl": Range(*PLAUSIBLE[MG_DL], "mg/dL"),
    "glucose_fasting_mmol_l": Range(*PLAUSIBLE[MMOL_L], "mmol/L"),
    "weight_kg": Range(2.0, 300.0, "kg"),
    "height_cm": Range(40.0, 250.0, "cm"),
}
RESULT_FIELDS = tuple(RANGES)


def check_results(results: Mapping[str, float | None]) -> dict[str, float]:
    """The given results (None dropped), each within its range; one glucose unit only. InvalidInput otherwise."""
    problems = []
    given = {name: float(value) for name, value in results.items() if value is not None}
    for name, value in given.items():
        allowed = RANGES.get(name)
        if allowed is None:
            problems.append(FieldProblem(name, f"unknown result; allowed {', '.join(RESULT_FIELDS)}"))
        elif not allowed.low <= value <= allowed.high:
            problems.append(
                FieldProblem(name, f"{value:g} is outside {allowed.low:g}-{allowed.high:g} {allowed.unit}")
            )
    if "glucose_fasting_mg_dl" in given and "glucose_fasting_mmol_l" in given:
        problems.append(
            FieldProblem(
                "glucose_fasting_mmol_l",
                "give fasting glucose once, in mg/dL (glucose_fasting_mg_dl) or mmol/L, not both",
            )
        )
    if problems:
        raise InvalidInput(
            "Visit results refused: " + "; ".join(f"{p.path}: {p.message}" for p in problems) + ".",
            fields=problems,
        )
    return given


def hba1c_mmol_mol(hba1c_percent: float) -> float:
    """IFCC (mmol/mol) = 10.93 x NGSP (%) - 23.5, to one decimal."""
    return round(10.93 * hba1c_percent - 23.5, 1)


def cpgr(c_peptide_ng_ml: float, glucose_mg_dl: float) -> float:
    """C-peptide (ng/mL) x 100 / glucose (mg/dL), same (fasting) sample, to two decimals."""
    return round(c_peptide_ng_ml * 100 / glucose_mg_dl, 2)


def bmi(weight_kg: float, height_cm: float) -> float:
    """kg / m^2, to one decimal."""
    return round(weight_kg / (height_cm / 100) ** 2, 1)


def idaa1c(hba1c_percent: float, iu_per_kg_day: float) -> float:
    """HbA1c (%) + 4 x insulin dose (IU/kg/day), to two decimals; <= 9 reads as partial remission."""
    return round(hba1c_percent + 4 * iu_per_kg_day, 2)


def derived(
    results: Mapping[str, float],
    *,
    height_cm: float | None,
    weight_kg: float | None,
    iu_per_kg_day: float | None,
    mg_dl_per_mmol_l: float,
) -> dict[str, float]:
    """The derived values computable from `results` (the visit's own height and weight take precedence over
    `height_cm`/`weight_kg`, the participant's last known ones)."""
    out: dict[str, float] = {}
    hba1c = results.get("hba1c_percent")
    if hba1c is not None:
        out["hba1c_mmol_mol"] = hba1c_mmol_mol(hba1c)
    glucose = results.get("glucose_fasting_mg_dl")
    if glucose is None and results.get("glucose_fasting_mmol_l") is not None:
        glucose = to_mg_dl(results["glucose_fasting_mmol_l"], MMOL_L, mg_dl_per_mmol_l)
    c_peptide = results.get("c_peptide_fasting_ng_ml")
    if c_peptide is not None and glucose:
        out["cpgr"] = cpgr(c_peptide, glucose)
    weight = results.get("weight_kg", weight_kg)
    height = results.get("height_cm", height_cm)
    if weight is not None and height:
        out["bmi"] = bmi(weight, height)
    if hba1c is not None and iu_per_kg_day is not None:
        out["idaa1c"] = idaa1c(hba1c, iu_per_kg_day)
    return out
