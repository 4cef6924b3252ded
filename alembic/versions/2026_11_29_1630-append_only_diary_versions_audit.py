"""append-only diary, versions and audit (PostgreSQL)

What a user committed is never lost: entries are voided, never deleted; every version stays with who, when and
why; the audit trail is never rewritten. The code never does otherwise, and from this revision PostgreSQL
refuses it too, whoever asks (a bug, a hand-typed DELETE in psql): triggers raise on

- DELETE (and TRUNCATE) of diary_entry, glucose_reading, diary_entry_version, alert, alert_entry, audit_event;
- UPDATE of audit_event;
- UPDATE of diary_entry_version that touches anything but the snapshot (the create version's snapshot is
  completed with the rules' flags in the same request; who, when, why, op and number never change).

SQLite, the embedded development database, has no such triggers.

Revision ID: 0007_append_only
Revises: 0006_join
Create Date: 2026-11-29 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007_append_only'
down_revision: str | Sequence[str] | None = '0006_join'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_DELETED = ("diary_entry", "glucose_reading", "diary_entry_version", "alert", "alert_entry", "audit_event")
VERSION_FIXED = ("entry_id", "version", "op", "changed_by_user_id", "changed_by_role", "changed_at", "reason")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION glucodiary_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'glucodiary: % on % is refused: this record is append-only (%)',
                TG_OP, TG_TABLE_NAME, TG_ARGV[0]
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in NEVER_DELETED:
        op.execute(
            f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} FOR EACH ROW"
            f" EXECUTE FUNCTION glucodiary_refuse('void or resolve instead; nothing committed is deleted')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_never_truncated BEFORE TRUNCATE ON {table} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION glucodiary_refuse('nothing committed is deleted')"
        )
    op.execute(
        "CREATE TRIGGER audit_event_never_changed BEFORE UPDATE ON audit_event FOR EACH ROW"
        " EXECUTE FUNCTION glucodiary_refuse('the audit trail is never rewritten')"
    )
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in VERSION_FIXED)
    op.execute(
        "CREATE TRIGGER diary_entry_version_attribution_fixed BEFORE UPDATE ON diary_entry_version"
        f" FOR EACH ROW WHEN ({changed})"
        " EXECUTE FUNCTION glucodiary_refuse('a version keeps who, when, why and what for good')"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER diary_entry_version_attribution_fixed ON diary_entry_version")
    op.execute("DROP TRIGGER audit_event_never_changed ON audit_event")
    for table in NEVER_DELETED:
        op.execute(f"DROP TRIGGER {table}_never_truncated ON {table}")
        op.execute(f"DROP TRIGGER {table}_never_deleted ON {table}")
    op.execute("DROP FUNCTION glucodiary_refuse()")
