"""notification delivery

The outbox gains what the dispatcher needs (category, severity, a lease: claimed_by and lease_until, the last
error, when it was sent); every attempt gets a row (delivery_attempt); the in-app inbox (notification) holds
one row per delivered message; notification_preference holds each user's channels and quiet hours.

Revision ID: 0012_delivery
Revises: 0011_episodes
Create Date: 2026-11-30 05:18:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.db

revision: str = '0012_delivery'
down_revision: str | Sequence[str] | None = '0011_episodes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=20), nullable=False, server_default='alert'))
        batch_op.add_column(sa.Column('severity', sa.String(length=10), nullable=False, server_default='info'))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('lease_until', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('sent_at', core.db.UTCDateTime(timezone=True), nullable=True))
    # messages queued before delivery existed: their severity is in the payload
    op.execute(
        "UPDATE outbox_message SET severity = CASE WHEN priority = 'high' THEN 'urgent' ELSE 'warning' END"
    )
    # the defaults only filled existing rows; new rows always name both (core.outbox.enqueue)
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('category', server_default=None)
        batch_op.alter_column('severity', server_default=None)

    op.create_table('delivery_attempt',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('provider_answer', sa.String(length=500), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('dispatcher', sa.String(length=80), nullable=False),
    sa.Column('attempted_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], name=op.f('fk_delivery_attempt_message_id_outbox_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempt')),
    sa.CheckConstraint("channel IN ('in_app', 'email', 'webhook')", name=op.f('ck_delivery_attempt_channel')),
    sa.CheckConstraint("outcome IN ('sent', 'retry', 'refused')", name=op.f('ck_delivery_attempt_outcome')),
    )
    with op.batch_alter_table('delivery_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempt_message_id'), ['message_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=2000), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], name=op.f('fk_notification_message_id_outbox_message')),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['user_account.id'], name=op.f('fk_notification_recipient_user_id_user_account')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_notification_participant_id_participant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('message_id', name=op.f('uq_notification_message_id')),
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_recipient_created', ['recipient_user_id', 'created_at', 'id'], unique=False)

    op.create_table('notification_preference',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('channels', JSON, nullable=False),
    sa.Column('quiet_start', sa.String(length=5), nullable=True),
    sa.Column('quiet_end', sa.String(length=5), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_preference_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preference')),
    )


def downgrade() -> None:
    op.drop_table('notification_preference')
    op.drop_table('notification')
    op.drop_table('delivery_attempt')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        for column in ('sent_at', 'last_error', 'lease_until', 'claimed_by', 'severity', 'category'):
            batch_op.drop_column(column)
