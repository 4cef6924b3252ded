"""episode cache: hypo_episode rows per participant, keyed by diary change position and protocol version

Revision ID: 0011_episodes
Revises: 0009_visits
Create Date: 2026-11-30 04:28:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import core.db

revision: str = '0011_episodes'
down_revision: str | Sequence[str] | None = '0009_visits'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('episode_state',
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_episode_state_participant_id_participant')),
    sa.PrimaryKeyConstraint('participant_id', name=op.f('pk_episode_state'))
    )
    op.create_table('hypo_episode',
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('protocol_version', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('start_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('start_local_date', sa.Date(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('needed_assistance', sa.Boolean(), nullable=False),
    sa.Column('nadir_value', sa.Float(), nullable=True),
    sa.Column('nadir_unit', sa.String(length=8), nullable=True),
    sa.Column('nadir_mg_dl', sa.Float(), nullable=True),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('entry_ids', JSON, nullable=False),
    sa.Column('event_ids', JSON, nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_hypo_episode_participant_id_participant')),
    sa.PrimaryKeyConstraint('participant_id', 'change_seq', 'protocol_version', 'ordinal', name=op.f('pk_hypo_episode'))
    )
    with op.batch_alter_table('hypo_episode', schema=None) as batch_op:
        batch_op.create_index('ix_hypo_episode_participant_start', ['participant_id', 'start_local_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hypo_episode', schema=None) as batch_op:
        batch_op.drop_index('ix_hypo_episode_participant_start')
    op.drop_table('hypo_episode')
    op.drop_table('episode_state')
