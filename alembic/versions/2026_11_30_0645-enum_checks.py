"""enum columns checked

The columns that hold one value of a core enum (roles, statuses, severities, categories, sexes, decisions) refuse
any other value in the database too: a CHECK constraint on PostgreSQL; on SQLite, which cannot add a CHECK to an
existing table without copying it (and losing 0008's triggers), BEFORE INSERT / UPDATE triggers that refuse the
same values.

Revision ID: 0018_enum_checks
Revises: 0017_join
Create Date: 2026-11-30 06:28:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018_enum_checks'
down_revision: str | Sequence[str] | None = '0017_join'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, allowed values, nullable): the values of the core enums as of this revision
CHECKED = (
    ("user_account", "role", ("participant", "guardian", "clinician", "coordinator", "statistician", "admin"), False),
    ("staff_assignment", "role", ("participant", "guardian", "clinician", "coordinator", "statistician", "admin"), False),
    ("invitation", "role", ("participant", "guardian"), False),
    ("participant", "sex", ("female", "male", "other", "unknown"), False),
    ("participant", "status", ("screening", "enrolled", "withdrawn", "completed"), False),
    ("participant", "consent_given_by", ("participant", "guardian"), True),
    ("login_throttle", "scope", ("account", "address"), False),
    ("alert", "category", ("safety", "dose_review"), False),
    ("alert", "severity", ("info", "warning", "urgent", "critical"), False),
    ("alert", "status", ("open", "acknowledged", "resolved"), False),
    ("alert", "decision", ("no_change", "increase", "decrease", "contacted_participant"), True),
    ("alert_entry", "cause_status", ("current", "corrected", "voided", "rejudged"), False),
)


def _refused(table: str, column: str, values: tuple[str, ...], nullable: bool) -> str:
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
                f"WHEN {_refused(table, column, values, nullable)} BEGIN "
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
