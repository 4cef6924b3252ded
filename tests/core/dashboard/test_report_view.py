"""The reports page's small charts, worked by hand from a few rows: which rows each report draws (the all-sites
aggregates, or the participants' rows per frame or week) and how it sums them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from core.dashboard.report_view import chart_of
from core.reports.service import Report


def report(
    name: str, *, rows: list[dict[str, Any]] | None = None, aggregates: list[dict[str, Any]] | None = None
) -> Report:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    return Report(name, uuid.uuid4(), 1, when, {}, [], [], rows or [], aggregates or [])


def test_hypoglycemia_draws_the_all_sites_rates_per_frame() -> None:
    aggregates = [
        {"frame": 1, "site_code": "S1", "arm_code": None, "episodes_per_100_patient_years": 99.0},
        {
            "frame": 1,
            "site_code": None,
            "arm_code": None,
            "episodes_per_100_patient_years": 40.5,
            "severe_per_100_patient_years": 0.0,
        },
        {"frame": 1, "site_code": None, "arm_code": "A", "episodes_per_100_patient_years": 77.0},
        {
            "frame": 2,
            "site_code": None,
            "arm_code": None,
            "episodes_per_100_patient_years": None,
            "severe_per_100_patient_years": 12.25,
        },
    ]
    chart = chart_of(report("hypoglycemia", aggregates=aggregates), 3)
    assert chart is not None
    assert chart.title == "Episodes per 100 patient-years, all sites"
    assert chart.document() == {
        "x_label": "frame",
        "y_label": "per 100 patient-years",
        "xs": [1, 2],
        "series": [
            {"label": "all episodes", "values": [40.5, None]},
            {"label": "severe", "values": [0.0, 12.25]},
        ],
    }


def test_glycemic_control_and_visits_draw_their_all_sites_figures() -> None:
    glycemic = chart_of(
        report(
            "glycemic-control",
            aggregates=[{"frame": 3, "fasting_in_range_pct": 61.2, "below_70_pct": 4.0}],
        ),
        3,
    )
    assert glycemic is not None and glycemic.title.startswith("Fasting readings in range")
    assert glycemic.document() == {
        "x_label": "frame",
        "y_label": "%",
        "xs": [3],
        "series": [
            {"label": "fasting in range", "values": [61.2]},
            {"label": "below 70 mg/dL", "values": [4.0]},
        ],
    }
    visits = chart_of(
        report(
            "visits",
            aggregates=[
                {"month": 1, "site_code": None, "hba1c_percent_mean": 7.25},
                {"month": 1, "site_code": "S2", "hba1c_percent_mean": 9.0},
                {"month": 3, "site_code": None, "hba1c_percent_mean": None},
            ],
        ),
        3,
    )
    assert visits is not None and visits.title == "Mean HbA1c of completed visits, all sites"
    assert visits.document() == {
        "x_label": "month",
        "y_label": "HbA1c %",
        "xs": [1, 3],
        "series": [{"label": "HbA1c", "values": [7.25, None]}],
    }


def test_completeness_is_logged_over_expected_days_per_week() -> None:
    rows = [
        {"week": 2, "expected_fasting": 7, "days_with_fasting": 7},
        {"week": 1, "expected_fasting": 7, "days_with_fasting": 5},
        {"week": 1, "expected_fasting": 5, "days_with_fasting": 3},
        {"week": 3, "expected_fasting": 0, "days_with_fasting": 0},
    ]
    chart = chart_of(report("completeness", rows=rows), 3)
    assert chart is not None
    # week 1: (5 + 3) / (7 + 5) = 66.7 %; week 2: 100 %; week 3: nothing expected
    assert chart.document() == {
        "x_label": "week",
        "y_label": "%",
        "xs": [1, 2, 3],
        "series": [{"label": "completeness", "values": [66.7, 100.0, None]}],
    }


def test_insulin_and_exercise_draw_the_participants_means_per_frame() -> None:
    insulin = chart_of(
        report(
            "insulin",
            rows=[
                {"frame": 2, "tdd_iu": 20},
                {"frame": 1, "tdd_iu": 10},
                {"frame": 1, "tdd_iu": None},
                {"frame": 1, "tdd_iu": 15},
            ],
        ),
        3,
    )
    assert insulin is not None and insulin.title == "Mean total daily insulin dose of the participants"
    # frame 1: (10 + 15) / 2 = 12.5, the missing dose left out
    assert insulin.document() == {
        "x_label": "frame",
        "y_label": "IU/day",
        "xs": [1, 2],
        "series": [{"label": "TDD", "values": [12.5, 20.0]}],
    }
    exercise = chart_of(
        report(
            "exercise",
            rows=[
                {"frame": 1, "minutes_per_week": 100, "regimen_minutes_per_week": None},
                {"frame": 1, "minutes_per_week": 51, "regimen_minutes_per_week": None},
            ],
        ),
        3,
    )
    assert exercise is not None
    assert exercise.document()["series"] == [
        {"label": "minutes per week", "values": [75.5]},
        {"label": "regimen", "values": [None]},
    ]


def test_a_report_with_nothing_to_draw_has_no_chart() -> None:
    for name in ("hypoglycemia", "glycemic-control", "visits"):
        only_a_site = [{"frame": 1, "month": 1, "site_code": "S1", "arm_code": None}]
        assert chart_of(report(name, aggregates=only_a_site), 3) is None
    for name in ("completeness", "insulin", "exercise"):
        assert chart_of(report(name), 3) is None
