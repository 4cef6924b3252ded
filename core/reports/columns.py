"""The column lists of every report, in order, with type, unit, definition and source: the data dictionary.

JSON rows and CSV headers use exactly these names (API.md's fixed columns first); `GET .../reports/dictionary`
answers this list, so a statistician can read the CSV into R or SAS with the right types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, integer, number, date, boolean
    unit: str | None
    definition: str
    source: str
    unblinded_only: bool = False


FRAME = "3-month time frame from day 0 (treatment date), numbered from 1 (months 0-3)"
EPISODE_SOURCE = (
    "hypoglycemia episodes (CLINICAL.md A2) of the participant's glucose readings and hypo_event entries"
)
READING_SOURCE = "glucose entries that are not voided (glucose_reading), by the participant's local date"

_PARTICIPANT = [
    Column("subject_code", "string", None, "the participant's subject code", "participant"),
    Column("site_code", "string", None, "the participant's site", "participant"),
    Column("arm_code", "string", None, "the arm the participant was allocated to", "participant", True),
    Column("frame", "integer", None, FRAME, "participant.treatment_date"),
    Column("frame_start", "date", None, "first local date of the frame", "participant.treatment_date"),
    Column(
        "frame_end", "date", None, "last local date of the frame (inclusive)", "participant.treatment_date"
    ),
    Column(
        "exposure_years",
        "number",
        "patient-years",
        "days on study in the frame and the report period (until withdrawal and the data cut) / 365.25",
        "participant.treatment_date, withdrawn_at; report from/to",
    ),
]


def _count(name: str, what: str) -> Column:
    return Column(name, "integer", "episodes", f"episodes starting in the frame {what}", EPISODE_SOURCE)


HYPOGLYCEMIA_ROWS = [
    *_PARTICIPANT,
    _count("episodes", "(all counted episodes)"),
    _count("level_1", "whose worst level is 1 (below the level 1 threshold, not below level 2)"),
    _count("level_2", "whose worst level is 2 (below the level 2 threshold)"),
    _count("level_3", "of level 3 (a linked event needed another person's help; children: ISPAD rule)"),
    _count("severe", "in the ADA 2005 category severe (needed help)"),
    _count("documented_symptomatic", "in the category documented symptomatic (symptoms and a measured low)"),
    _count("asymptomatic", "in the category asymptomatic (measured low, no symptoms reported)"),
    _count("probable_symptomatic", "in the category probable symptomatic (symptoms, nothing measured)"),
    Column(
        "pseudo_hypoglycemia",
        "integer",
        "reports",
        "reported symptoms with a measured value at or above the threshold (reported, not counted as episodes)",
        EPISODE_SOURCE,
    ),
]

_AGGREGATE = "participants' rows of the frame, grouped per site (site_code empty: all sites in the report)"
HYPOGLYCEMIA_AGGREGATES = [
    Column("frame", "integer", None, FRAME, "participant.treatment_date"),
    Column("site_code", "string", None, "the site, or empty for all sites of the report", "participant"),
    Column("arm_code", "string", None, "the arm (rows per arm, unblinded readers only)", "participant", True),
    Column("participants", "integer", "participants", "participants with exposure in the frame", _AGGREGATE),
    Column(
        "participants_with_episode",
        "integer",
        "participants",
        "participants with at least one episode",
        _AGGREGATE,
    ),
    Column(
        "participants_with_episode_pct",
        "number",
        "%",
        "100 x participants_with_episode / participants",
        _AGGREGATE,
    ),
    Column("episodes", "integer", "episodes", "counted episodes", _AGGREGATE),
    Column("severe", "integer", "episodes", "severe episodes (ADA 2005)", _AGGREGATE),
    Column("exposure_years", "number", "patient-years", "sum of the participants' exposure", _AGGREGATE),
    Column("episodes_per_patient_year", "number", "1/patient-year", "episodes / exposure_years", _AGGREGATE),
    Column(
        "episodes_per_100_patient_years",
        "number",
        "1/100 patient-years",
        "100 x episodes / exposure",
        _AGGREGATE,
    ),
    Column(
        "severe_per_100_patient_years", "number", "1/100 patient-years", "100 x severe / exposure", _AGGREGATE
    ),
]

_FASTING = "fasting readings (context fasting, no meal logged in the hours before)"
_POSTPRANDIAL = "postprandial readings (context postprandial, not mis-timed against the meal)"
GLYCEMIC_ROWS = [
    *_PARTICIPANT,
    Column("readings", "integer", "readings", "glucose readings in the frame", READING_SOURCE),
    Column("fasting_n", "integer", "readings", _FASTING, READING_SOURCE),
    Column(
        "fasting_mean_mg_dl", "number", "mg/dL", f"mean of the {_FASTING}, canonical mg/dL", READING_SOURCE
    ),
    Column(
        "fasting_in_range_pct",
        "number",
        "%",
        "% of fasting readings inside the protocol's fasting range (judged in the unit entered)",
        READING_SOURCE,
    ),
    Column("postprandial_n", "integer", "readings", _POSTPRANDIAL, READING_SOURCE),
    Column("postprandial_mean_mg_dl", "number", "mg/dL", f"mean of the {_POSTPRANDIAL}", READING_SOURCE),
    Column(
        "postprandial_in_range_pct",
        "number",
        "%",
        "% of postprandial readings below the protocol's postprandial limit (judged in the unit entered)",
        READING_SOURCE,
    ),
    Column("mean_mg_dl", "number", "mg/dL", "mean of all readings, canonical mg/dL", READING_SOURCE),
    Column("sd_mg_dl", "number", "mg/dL", "sample standard deviation (n-1) of all readings", READING_SOURCE),
    Column(
        "cv_pct", "number", "%", "coefficient of variation, 100 x SD / mean (target <= 36 %)", READING_SOURCE
    ),
    Column(
        "below_70_pct",
        "number",
        "%",
        "% of readings below the level 1 threshold (70 mg/dL / 3.9 mmol/L by default; protocol operator)",
        READING_SOURCE,
    ),
    Column(
        "below_54_pct",
        "number",
        "%",
        "% of readings below the level 2 threshold (54 mg/dL / 3.0 mmol/L by default)",
        READING_SOURCE,
    ),
]

GLYCEMIC_AGGREGATES = [
    *HYPOGLYCEMIA_AGGREGATES[:3],
    Column("participants", "integer", "participants", "participants with exposure in the frame", _AGGREGATE),
    *(
        Column(c.name, c.type, c.unit, f"{c.definition}, over all readings of the group", _AGGREGATE)
        for c in GLYCEMIC_ROWS[len(_PARTICIPANT) :]
    ),
]

_WEEK = "week from day 0, numbered from 1 (days 0-6)"
COMPLETENESS_ROWS = [
    *_PARTICIPANT[:3],
    Column("week", "integer", None, _WEEK, "participant.treatment_date"),
    Column("week_start", "date", None, "first local date of the week", "participant.treatment_date"),
    Column("week_end", "date", None, "last local date of the week (inclusive)", "participant.treatment_date"),
    Column(
        "expected_fasting",
        "integer",
        "readings",
        "days on study in the week and the report period: one fasting reading expected a day",
        "participant.treatment_date, withdrawn_at; report from/to",
    ),
    Column("fasting_readings", "integer", "readings", "fasting readings logged in the week", READING_SOURCE),
    Column("days_with_fasting", "integer", "days", "days with at least one fasting reading", READING_SOURCE),
    Column("completeness_pct", "number", "%", "100 x days_with_fasting / expected_fasting", READING_SOURCE),
]
EXERCISE_SOURCE = "exercise entries that are not voided (diary_entry kind exercise, duration_min)"
EXERCISE_ROWS = [
    *_PARTICIPANT,
    Column("sessions", "integer", "sessions", "exercise sessions in the frame", EXERCISE_SOURCE),
    Column("minutes", "number", "min", "minutes of exercise in the frame", EXERCISE_SOURCE),
    Column("sessions_per_week", "number", "1/week", "sessions / (exposure days / 7)", EXERCISE_SOURCE),
    Column("minutes_per_week", "number", "min/week", "minutes / (exposure days / 7)", EXERCISE_SOURCE),
    Column(
        "regimen_sessions_per_week",
        "integer",
        "1/week",
        "the protocol's regimen (sessions a week)",
        "protocol",
    ),
    Column(
        "regimen_minutes_per_week",
        "integer",
        "min/week",
        "the protocol's regimen: sessions x minutes",
        "protocol",
    ),
    Column(
        "regimen_minutes_pct",
        "number",
        "%",
        "100 x minutes_per_week / regimen_minutes_per_week",
        EXERCISE_SOURCE,
    ),
    Column(
        "mean_mg_dl_exercise_days",
        "number",
        "mg/dL",
        "mean glucose of readings on local days with an exercise session",
        READING_SOURCE,
    ),
    Column(
        "mean_mg_dl_other_days",
        "number",
        "mg/dL",
        "mean glucose of readings on the other days",
        READING_SOURCE,
    ),
]

VISIT_SOURCE = "study visits (visit: plan, status, results as entered, values derived at completion)"
VISIT_ROWS = [
    *_PARTICIPANT[:3],
    Column("visit", "string", None, "visit label (M1, M3, ...)", VISIT_SOURCE),
    Column("month", "integer", "months", "months after day 0 the visit is planned for", VISIT_SOURCE),
    Column("target_date", "date", None, "planned local date", VISIT_SOURCE),
    Column("status", "string", None, "planned, completed, missed or cancelled", VISIT_SOURCE),
    Column("completed_on", "date", None, "local date the visit took place", VISIT_SOURCE),
    Column("outside_window", "boolean", None, "completed outside the protocol's visit window", VISIT_SOURCE),
    Column("hba1c_percent", "number", "%", "HbA1c, NGSP", VISIT_SOURCE),
    Column("c_peptide_fasting_ng_ml", "number", "ng/mL", "fasting C-peptide", VISIT_SOURCE),
    Column("c_peptide_stimulated_ng_ml", "number", "ng/mL", "stimulated C-peptide", VISIT_SOURCE),
    Column(
        "glucose_fasting_mg_dl", "number", "mg/dL", "fasting glucose of the C-peptide sample", VISIT_SOURCE
    ),
    Column("weight_kg", "number", "kg", "weight at the visit", VISIT_SOURCE),
    Column("hba1c_mmol_mol", "number", "mmol/mol", "HbA1c IFCC = 10.93 x NGSP - 23.5", VISIT_SOURCE),
    Column("cpgr", "number", None, "C-peptide (ng/mL) x 100 / glucose (mg/dL), same sample", VISIT_SOURCE),
    Column("bmi", "number", "kg/m2", "weight / height^2", VISIT_SOURCE),
    Column(
        "idaa1c", "number", "%", "HbA1c + 4 x insulin dose (IU/kg/day); <= 9 partial remission", VISIT_SOURCE
    ),
]
VISIT_AGGREGATES = [
    Column("month", "integer", "months", "months after day 0", VISIT_SOURCE),
    Column("visit", "string", None, "visit label", VISIT_SOURCE),
    HYPOGLYCEMIA_AGGREGATES[1],
    HYPOGLYCEMIA_AGGREGATES[2],
    Column("visits_due", "integer", "visits", "visits planned before the data cut", VISIT_SOURCE),
    Column("completed", "integer", "visits", "of them completed", VISIT_SOURCE),
    *(
        Column(
            f"{c.name}_mean", "number", c.unit, f"mean {c.definition} of the completed visits", VISIT_SOURCE
        )
        for c in VISIT_ROWS
        if c.name
        in (
            "hba1c_percent",
            "hba1c_mmol_mol",
            "c_peptide_fasting_ng_ml",
            "c_peptide_stimulated_ng_ml",
            "cpgr",
        )
    ),
]

INSULIN_SOURCE = "insulin entries (units) and insulin_status entries that are not voided, by local day"
INSULIN_ROWS = [
    *_PARTICIPANT,
    Column(
        "days_with_data",
        "integer",
        "days",
        "days with a dose, plus days without one while insulin was recorded as discontinued (TDD 0)",
        INSULIN_SOURCE,
    ),
    Column("tdd_iu", "number", "IU/day", "mean total daily dose over the days with data", INSULIN_SOURCE),
    Column(
        "iu_per_kg",
        "number",
        "IU/kg/day",
        "tdd_iu / latest weight on or before the frame's last day",
        INSULIN_SOURCE,
    ),
    Column(
        "baseline_tdd_iu",
        "number",
        "IU/day",
        "mean total daily dose over the 14 days before day 0",
        INSULIN_SOURCE,
    ),
    Column("change_pct", "number", "%", "100 x (tdd - baseline) / baseline, rounded to 0.1", INSULIN_SOURCE),
    Column(
        "change_category",
        "string",
        None,
        "discontinued; reduced_over_50 (< -50); reduced_15_50 (-50..-15); maintained (|change| < 15);"
        " increased_15_50 (15..50); increased_over_50 (> 50)",
        INSULIN_SOURCE,
    ),
]

REPORTS: dict[str, tuple[list[Column], list[Column]]] = {
    "hypoglycemia": (HYPOGLYCEMIA_ROWS, HYPOGLYCEMIA_AGGREGATES),
    "glycemic-control": (GLYCEMIC_ROWS, GLYCEMIC_AGGREGATES),
    "completeness": (COMPLETENESS_ROWS, []),
    "exercise": (EXERCISE_ROWS, []),
    "insulin": (INSULIN_ROWS, []),
    "visits": (VISIT_ROWS, VISIT_AGGREGATES),
}


def visible(columns: list[Column], *, unblinded: bool) -> list[Column]:
    """The columns a reader may see: no arm for a blinded reader."""
    return [c for c in columns if unblinded or not c.unblinded_only]
