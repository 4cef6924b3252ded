"""clinic sessions

The clinic dashboard signs staff in with a server-side session: the browser holds a random id in an HttpOnly
cookie, this table its SHA-256, the CSRF token of its forms, and when it ends (idle, absolute, revoked).

Revision ID: 0013_clinic_sessions
Revises: 0012_delivery
Create Date: 2026-11-30 04:26:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
import core.db

revision: str = '0013_clinic_sessions'
down_revision: str | Sequence[str] | None = '0012_delivery'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clinic_session',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_clinic_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_clinic_session_token_hash'))
    )
    with op.batch_alter_table('clinic_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_session_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clinic_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_session_user_id'))
    op.drop_table('clinic_session')
