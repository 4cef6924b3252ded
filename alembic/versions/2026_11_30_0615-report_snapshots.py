"""report snapshots: data cuts frozen as the exact bytes served for download

Revision ID: 0015_report_snapshots
Revises: 0014_randomisation_list
Create Date: 2026-11-30 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import core.db

revision: str = '0015_report_snapshots'
down_revision: str | Sequence[str] | None = '0014_randomisation_list'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_snapshot',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('study_id', sa.Uuid(), nullable=False),
    sa.Column('cut', sa.Date(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('diary_change_position', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], name=op.f('fk_report_snapshot_created_by_user_account')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_report_snapshot_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_snapshot'))
    )
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_snapshot_study_id'), ['study_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_snapshot_study_id'))
    op.drop_table('report_snapshot')
