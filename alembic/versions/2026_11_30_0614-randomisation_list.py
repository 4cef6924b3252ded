"""randomisation list

A study allocating by list (protocol `allocation.method: list`) keeps its randomisation list here: one slot per
site, stratum and sequence number with its arm, taken by one participant at enrolment.

Revision ID: 0014_randomisation_list
Revises: 0013_clinic_sessions
Create Date: 2026-11-30 05:18:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
import core.db

revision: str = '0014_randomisation_list'
down_revision: str | Sequence[str] | None = '0013_clinic_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('randomisation_slot',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('study_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('stratum', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('arm_id', sa.Uuid(), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=True),
    sa.Column('assigned_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('uploaded_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['arm_id'], ['arm.id'], name=op.f('fk_randomisation_slot_arm_id_arm')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_randomisation_slot_participant_id_participant')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_randomisation_slot_site_id_site')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_randomisation_slot_study_id_study')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['user_account.id'], name=op.f('fk_randomisation_slot_uploaded_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_randomisation_slot')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_randomisation_slot_participant_id')),
    sa.UniqueConstraint('study_id', 'site_id', 'stratum', 'sequence', name=op.f('uq_randomisation_slot_study_id_site_id_stratum_sequence'))
    )
    with op.batch_alter_table('randomisation_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_randomisation_slot_study_id'), ['study_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('randomisation_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_randomisation_slot_study_id'))
    op.drop_table('randomisation_slot')
