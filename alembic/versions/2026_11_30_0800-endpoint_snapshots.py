"""endpoint snapshots: each participant's endpoint counts of each completed 3-month frame, per protocol version

Revision ID: 0019_endpoint_snapshots
Revises: 0018_enum_checks
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import core.db

revision: str = '0019_endpoint_snapshots'
down_revision: str | Sequence[str] | None = '0018_enum_checks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('endpoint_snapshot',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('study_id', sa.Uuid(), nullable=False),
    sa.Column('frame', sa.Integer(), nullable=False),
    sa.Column('frame_start', sa.Date(), nullable=False),
    sa.Column('frame_end', sa.Date(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('exposure_days', sa.Integer(), nullable=False),
    sa.Column('exposure_years', sa.Float(), nullable=False),
    sa.Column('episodes', sa.Integer(), nullable=False),
    sa.Column('level_1', sa.Integer(), nullable=False),
    sa.Column('level_2', sa.Integer(), nullable=False),
    sa.Column('level_3', sa.Integer(), nullable=False),
    sa.Column('severe', sa.Integer(), nullable=False),
    sa.Column('documented_symptomatic', sa.Integer(), nullable=False),
    sa.Column('asymptomatic', sa.Integer(), nullable=False),
    sa.Column('probable_symptomatic', sa.Integer(), nullable=False),
    sa.Column('pseudo_hypoglycemia', sa.Integer(), nullable=False),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_endpoint_snapshot_participant_id_participant')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_endpoint_snapshot_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endpoint_snapshot')),
    sa.UniqueConstraint('participant_id', 'frame', 'protocol_version', name=op.f('uq_endpoint_snapshot_participant_id_frame_protocol_version'))
    )
    with op.batch_alter_table('endpoint_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoint_snapshot_study_id'), ['study_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('endpoint_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoint_snapshot_study_id'))
    op.drop_table('endpoint_snapshot')
