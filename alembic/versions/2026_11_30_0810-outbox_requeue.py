"""outbox requeue

A dead-lettered message can be returned to the queue (`glucodiary notifications requeue`): `requeued_at` says
when, so the dispatcher counts only the attempts made since against MAX_ATTEMPTS (the earlier ones stay in
delivery_attempt as history, and a channel that took the message is never sent it again).

Revision ID: 0020_requeue
Revises: 0019_endpoint_snapshots
Create Date: 2026-11-30 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = '0020_requeue'
down_revision: str | Sequence[str] | None = '0019_endpoint_snapshots'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy of the table on SQLite)
    op.add_column('outbox_message', sa.Column('requeued_at', core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('requeued_at')
