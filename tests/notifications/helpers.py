"""Shared set-up of the delivery tests: a dispatcher on the test's connection, a study with its people, and
messages queued the way the rules queue them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from core.config import NotificationSettings
from core.models.notifications import Notification
from core.models.outbox import DeliveryAttempt, OutboxMessage
from core.models.people import Role, User
from core.models.study import Participant, Study
from notifications.channels import configured_channels
from notifications.dispatcher import Dispatcher
from tests.factories import create_guardian, create_participant, create_staff, create_study, participant_user
from tests.notifications.receivers import SECRET


def settings(**overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "smtp_tls": "none",
        "webhook_secret": SECRET,
        "webhook_allow_hosts": ["127.0.0.1"],
        "webhook_timeout_s": 10.0,  # generous: the suite may run on a loaded machine
        "smtp_timeout_s": 10.0,
        "backoff_base_s": 60.0,
        "max_attempts": 3,
    }
    values.update(overrides)
    return NotificationSettings(**values)


def dispatcher(
    connection: AsyncConnection, config: NotificationSettings, name: str = "test-dispatcher"
) -> Dispatcher:
    """A dispatcher whose units of work are savepoints of the test's transaction (rolled back afterwards)."""

    def sessions() -> AsyncSession:
        return AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    return Dispatcher(sessions=sessions, settings=config, channels=configured_channels(config), name=name)


@dataclass
class People:
    study: Study
    participant: Participant
    participant_user: User
    guardian: User
    clinician: User
    coordinator: User


async def people(session: AsyncSession) -> People:
    study = await create_study(session)
    participant = await create_participant(session, study)
    return People(
        study=study,
        participant=participant,
        participant_user=await participant_user(session, participant),
        guardian=await create_guardian(session, participant),
        clinician=await create_staff(session, study, Role.clinician),
        coordinator=await create_staff(session, study, Role.coordinator),
    )


async def messages(session: AsyncSession) -> list[OutboxMessage]:
    found = await session.execute(
        select(OutboxMessage)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.severity))
        .execution_options(populate_existing=True)
    )
    return list(found.scalars())


async def attempts(session: AsyncSession, message: OutboxMessage) -> list[tuple[str, str]]:
    found = await session.execute(
        select(DeliveryAttempt.channel, DeliveryAttempt.outcome)
        .where(col(DeliveryAttempt.message_id) == message.id)
        .order_by(col(DeliveryAttempt.attempted_at), col(DeliveryAttempt.channel))
    )
    return [(c, o) for c, o in found.all()]


async def inbox(session: AsyncSession, user: User) -> list[Notification]:
    found = await session.execute(select(Notification).where(col(Notification.recipient_user_id) == user.id))
    return list(found.scalars())
