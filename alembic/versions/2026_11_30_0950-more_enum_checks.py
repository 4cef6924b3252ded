"""the remaining enum columns checked

0018 checked the people, study and alert columns; the columns holding one value of a core enum that it left (an
alert's kind, the diary's kind, roles, units and contexts, visit, outbox, notification, job and episode states)
refuse any other value now too, the same way: a CHECK on PostgreSQL, BEFORE INSERT / UPDATE triggers on SQLite.
(delivery_attempt's channel and outcome had their CHECK from the start.)

Revision ID: 0021_more_enum_checks
Revises: 0020_requeue
Create Date: 2026-11-30 08:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_more_enum_checks"
down_revision: str | Sequence[str] | None = "0020_requeue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("participant", "guardian", "clinician", "coordinator", "statistician", "admin")
SEVERITIES = ("info", "warning", "urgent", "critical")
MESSAGE_CATEGORIES = ("alert", "dose_review", "operational", "reminder", "own_alert", "summary")

# (table, column, allowed values, nullable): the values of the core enums as of this revision
CHECKED = (
    (
        "alert",
        "kind",
        (
            "hypoglycemia_level_1",
            "hypoglycemia_level_2",
            "severe_hypoglycemia",
            "illness_reported",
            "ketones_high",
            "ketones_critical",
            "illness_hospital_visit",
            "dose_review_basal_increase",
            "dose_review_meal_bolus",
            "dose_review_reduction",
            "dose_review_falling_requirement",
        ),
        False,
    ),
    (
        "diary_entry",
        "kind",
        ("glucose", "insulin", "meal", "exercise", "illness", "hypo_event", "weight", "insulin_status"),
        False,
    ),
    ("diary_entry", "recorded_by_role", ROLES, False),
    ("diary_entry_version", "op", ("create", "edit", "void", "rejudge"), False),
    ("diary_entry_version", "changed_by_role", ROLES, False),
    ("glucose_reading", "unit", ("mg/dL", "mmol/L"), False),
    (
        "glucose_reading",
        "context",
        ("fasting", "pre_meal", "postprandial", "bedtime", "overnight", "random"),
        False,
    ),
    ("glucose_reading", "source", ("meter", "cgm", "lab", "manual"), True),
    ("visit", "status", ("planned", "completed", "missed", "cancelled"), False),
    (
        "visit_version",
        "change",
        ("planned", "replanned", "completed", "corrected", "missed", "cancelled"),
        False,
    ),
    ("job_run", "outcome", ("ok", "failed"), False),
    ("outbox_message", "category", MESSAGE_CATEGORIES, False),
    ("outbox_message", "severity", SEVERITIES, False),
    ("outbox_message", "status", ("pending", "sent", "failed", "dead"), False),
    ("notification", "category", MESSAGE_CATEGORIES, False),
    ("notification", "severity", SEVERITIES, False),
    (
        "hypo_episode",
        "category",
        (
            "severe",
            "documented_symptomatic",
            "asymptomatic",
            "probable_symptomatic",
            "pseudo_hypoglycemia",
            "unconfirmed",
        ),
        False,
    ),
    ("hypo_episode", "nadir_unit", ("mg/dL", "mmol/L"), True),
)


def _refused(column: str, values: tuple[str, ...], nullable: bool) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    test = f"NEW.{column} NOT IN ({listed})"
    return f"NEW.{column} IS NOT NULL AND {test}" if nullable else f"NEW.{column} IS NULL OR {test}"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, values, nullable in CHECKED:
        listed = ", ".join(f"'{v}'" for v in values)
        if not sqlite:
            op.create_check_constraint(op.f(f"ck_{table}_{column}"), table, f"{column} IN ({listed})")
            continue
        for event in ("INSERT", f"UPDATE OF {column}"):
            op.execute(
                f'CREATE TRIGGER "ck_{table}_{column}_{event.split()[0].lower()}" BEFORE {event} ON "{table}" '
                f"WHEN {_refused(column, values, nullable)} BEGIN "
                f"SELECT RAISE(ABORT, 'glucodiary: {table}.{column} must be one of {', '.join(values)}'); END;"
            )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _values, _nullable in reversed(CHECKED):
        if not sqlite:
            op.drop_constraint(op.f(f"ck_{table}_{column}"), table, type_="check")
            continue
        for event in ("insert", "update"):
            op.execute(f'DROP TRIGGER IF EXISTS "ck_{table}_{column}_{event}"')
