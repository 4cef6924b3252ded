"""diary run-in entries

Entries of run-in days before enrolment (the baseline insulin of the 14 days before day 0), entered
retrospectively by study staff, are marked `run_in` on the row and in the answer. Every stored answer gains
`"run_in": false` (they were all entered on or after enrolment); the versions' audit records stay as written.

Revision ID: 0016_diary_run_in
Revises: 0015_report_snapshots
Create Date: 2026-11-30 05:39:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_diary_run_in'
down_revision: str | Sequence[str] | None = '0015_report_snapshots'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both (not batch mode): SQLite's copy-and-move would drop the append-only triggers
    op.add_column('diary_entry', sa.Column('run_in', sa.Boolean(), server_default=sa.false(), nullable=False))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE diary_entry SET document = jsonb_set(document, '{run_in}', 'false'::jsonb)")
    else:
        op.execute("UPDATE diary_entry SET document = json_set(document, '$.run_in', json('false'))")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE diary_entry SET document = document - 'run_in'")
    else:
        op.execute("UPDATE diary_entry SET document = json_remove(document, '$.run_in')")
    op.drop_column('diary_entry', 'run_in')
