"""each version's snapshot is its audit record; entries keep no answer

`diary_entry_version.snapshot` is renamed `audit_record`: the entry whole as it stood at that version, kept for
good (its stored shape does not change). `diary_entry.document`, a copy of the latest version's record that reads
sent back as stored, goes: api/ renders answers from the entry's columns now, so a later API version can change
its shape without rewriting stored rows. Nothing is lost: every value of the dropped column is the audit record of
its entry's latest version (downgrade restores it from there).

Revision ID: 0022_audit_record
Revises: 0021_more_enum_checks
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022_audit_record"
down_revision: str | Sequence[str] | None = "0021_more_enum_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # plain ALTER TABLE on both databases (SQLite >= 3.35 renames and drops columns in place; no trigger or
    # index names these columns, so no table copy is needed)
    op.execute("ALTER TABLE diary_entry_version RENAME COLUMN snapshot TO audit_record")
    op.execute("ALTER TABLE diary_entry DROP COLUMN document")


def downgrade() -> None:
    # NOT NULL needs a default for the rows already there (plain ADD COLUMN: a batch copy of the table on SQLite
    # would drop its triggers); each row then gets its latest version's record back
    op.add_column("diary_entry", sa.Column("document", JSON_DOCUMENT, nullable=False, server_default="{}"))
    op.execute(
        "UPDATE diary_entry SET document = (SELECT v.audit_record FROM diary_entry_version v"
        " WHERE v.entry_id = diary_entry.id AND v.version = diary_entry.version)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("diary_entry", "document", server_default=None)
    op.execute("ALTER TABLE diary_entry_version RENAME COLUMN audit_record TO snapshot")
