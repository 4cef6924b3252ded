"""Visit results: plausible ranges with named errors, and the derived values worked by hand (CLINICAL.md A3)."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.visits.results import check_results, derived


def test_derived_values_by_hand() -> None:
    # HbA1c 7.0 % -> 10.93 x 7.0 - 23.5 = 53.01 mmol/mol; CPGR 1.2 x 100 / 100 = 1.2;
    # BMI 30 kg / 1.32 m^2 = 30 / 1.7424 = 17.22; IDAA1c 7.0 + 4 x 0.5 = 9.0
    out = derived(
        {
            "hba1c_percent": 7.0,
            "c_peptide_fasting_ng_ml": 1.2,
            "glucose_fasting_mg_dl": 100.0,
            "weight_kg": 30.0,
        },
        height_cm=132.0,
        weight_kg=None,
        iu_per_kg_day=0.5,
        mg_dl_per_mmol_l=18.016,
    )
    assert out == {"hba1c_mmol_mol": 53.0, "cpgr": 1.2, "bmi": 17.2, "idaa1c": 9.0}


def test_cpgr_from_a_glucose_in_mmol_per_litre() -> None:
    # 5.5 mmol/L x 18.016 = 99.088 mg/dL; 0.9 x 100 / 99.088 = 0.908
    out = derived(
        {"c_peptide_fasting_ng_ml": 0.9, "glucose_fasting_mmol_l": 5.5},
        height_cm=None,
        weight_kg=None,
        iu_per_kg_day=None,
        mg_dl_per_mmol_l=18.016,
    )
    assert out == {"cpgr": 0.91}


def test_nothing_derived_without_its_inputs() -> None:
    # HbA1c 9.0 % -> 98.37 - 23.5 = 74.87; no dose, no height: no IDAA1c, no BMI
    out = derived(
        {"hba1c_percent": 9.0}, height_cm=None, weight_kg=40.0, iu_per_kg_day=None, mg_dl_per_mmol_l=18.016
    )
    assert out == {"hba1c_mmol_mol": 74.9}


def test_out_of_range_and_wrong_unit_are_refused_naming_field_and_range() -> None:
    with pytest.raises(InvalidInput) as refused:
        # 53 is an HbA1c in mmol/mol sent as a percentage; 5.5 is a glucose in mmol/L sent as mg/dL
        check_results({"hba1c_percent": 53, "glucose_fasting_mg_dl": 5.5, "weight_kg": None})
    problems = {p.path: p.message for p in refused.value.fields}
    assert problems == {
        "hba1c_percent": "53 is outside 3-20 %",
        "glucose_fasting_mg_dl": "5.5 is outside 10-600 mg/dL",
    }


def test_glucose_in_both_units_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_results({"glucose_fasting_mg_dl": 99, "glucose_fasting_mmol_l": 5.5})
    assert refused.value.fields[0].path == "glucose_fasting_mmol_l"
