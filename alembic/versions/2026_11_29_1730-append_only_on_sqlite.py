"""append-only on SQLite too

0007_append_only made PostgreSQL refuse to lose committed records. The embedded SQLite database (`make run`,
small deployments) now refuses the same: DELETE of diary_entry, glucose_reading, diary_entry_version, alert,
alert_entry and audit_event; UPDATE of audit_event; an UPDATE of a version that changes its number, op,
author, time or reason. (SQLite has no TRUNCATE.)

Revision ID: 0008_append_only_sqlite
Revises: 0007_append_only
Create Date: 2026-11-29 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008_append_only_sqlite'
down_revision: str | Sequence[str] | None = '0007_append_only'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_DELETED = ("diary_entry", "glucose_reading", "diary_entry_version", "alert", "alert_entry", "audit_event")
VERSION_FIXED = ("entry_id", "version", "op", "changed_by_user_id", "changed_by_role", "changed_at", "reason")


def _refuse(what: str, table: str, why: str) -> str:
    return f"SELECT RAISE(ABORT, 'glucodiary: {what} on {table} is refused: this record is append-only ({why})');"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in NEVER_DELETED:
        op.execute(
            f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} BEGIN "
            + _refuse("DELETE", table, "void or resolve instead; nothing committed is deleted")
            + " END"
        )
    op.execute(
        "CREATE TRIGGER audit_event_never_changed BEFORE UPDATE ON audit_event BEGIN "
        + _refuse("UPDATE", "audit_event", "the audit trail is never rewritten")
        + " END"
    )
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in VERSION_FIXED)
    op.execute(
        "CREATE TRIGGER diary_entry_version_attribution_fixed BEFORE UPDATE ON diary_entry_version"
        f" WHEN {changed} BEGIN "
        + _refuse("UPDATE", "diary_entry_version", "a version keeps who, when, why and what for good")
        + " END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER diary_entry_version_attribution_fixed")
    op.execute("DROP TRIGGER audit_event_never_changed")
    for table in NEVER_DELETED:
        op.execute(f"DROP TRIGGER {table}_never_deleted")
