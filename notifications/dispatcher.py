"""The dispatcher: claims due outbox messages, routes each to its channels, renders, sends, records every
attempt, and retries with exponential back-off and jitter until a message is sent or dead.

Each batch: claim (a short transaction, the lease), read recipients and earlier attempts, deliver in-app
(a row in the finishing transaction, unique per message) and send the other channels concurrently, then
record attempts, inbox rows and each message's new state in one transaction. A channel that took a message
is never sent it again; a dispatcher killed mid-send leaves rows whose lease expires and which another
dispatcher sends again (the only way a receiver can see a message twice: it carries the same
Idempotency-Key / Message-ID, so the receiver can tell).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.config import NotificationSettings
from core.models.outbox import AttemptOutcome, Channel, OutboxStatus
from notifications import store
from notifications.channels import DeliveryChannel, Outgoing, Result
from notifications.quiet import quiet_until
from notifications.render import render

log = logging.getLogger("glucodiary.dispatcher")

DEFAULT_ON = True  # a category or channel a user never chose is on


def dispatcher_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(settings: NotificationSettings, attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: base x 2^(attempts-1), capped, with jitter in [1/2, 1] of it so
    that messages failing together do not retry together."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def wants(recipient: store.Recipient, category: str, channel: Channel) -> bool:
    if channel is Channel.in_app:
        return True  # the inbox is always on: it is where every message can be found again
    chosen = recipient.channels.get(category, {})
    return bool(chosen.get(channel.value, DEFAULT_ON)) if isinstance(chosen, dict) else DEFAULT_ON


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: Callable[[], AsyncSession],
        settings: NotificationSettings,
        channels: list[DeliveryChannel],
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.channels = {channel.name: channel for channel in channels}
        self.name = name or dispatcher_name()
        self.stopping = asyncio.Event()
        self._limit = asyncio.Semaphore(settings.concurrency)

    def stop(self) -> None:
        """Finish the batch in hand, record it, and return (SIGTERM, SIGINT)."""
        self.stopping.set()

    async def run(self) -> None:
        log.info("dispatcher %s started; channels: %s", self.name, ", ".join(self.channel_names()))
        try:
            while not self.stopping.is_set():
                try:
                    report = await self.run_once()
                except Exception:  # the database went away, say: keep the process, try again after a pause
                    log.exception("dispatcher %s: a batch failed; trying again", self.name)
                    report = BatchReport()
                if report.claimed < self.settings.batch_size:
                    try:  # an empty or short queue: look again after a pause, or stop at once when asked
                        await asyncio.wait_for(self.stopping.wait(), timeout=self.settings.poll_s)
                    except TimeoutError:
                        pass
        finally:
            async with self.sessions() as session, session.begin():
                await store.release(session, me=self.name)
            for channel in self.channels.values():
                await channel.close()
            log.info("dispatcher %s stopped", self.name)

    def channel_names(self) -> list[str]:
        return [Channel.in_app.value, *(c.value for c in self.channels)]

    async def run_once(self) -> BatchReport:
        """Claim one batch, deliver it and record it; what it claimed is released if anything goes wrong."""
        now = clock.now()
        async with self.sessions() as session, session.begin():
            claimed = await store.claim(
                session,
                me=self.name,
                now=now,
                lease_s=self.settings.lease_s,
                limit=self.settings.batch_size,
            )
        if not claimed:
            return BatchReport()
        ids = [m.id for m in claimed]
        finished = asyncio.Event()
        heartbeat = asyncio.create_task(self._keep_lease(ids, finished))
        try:
            return await self._deliver(claimed)
        except BaseException:
            async with self.sessions() as session, session.begin():
                await store.release(session, me=self.name, ids=ids)
            raise
        finally:
            finished.set()
            await heartbeat

    async def _keep_lease(self, ids: list[uuid.UUID], finished: asyncio.Event) -> None:
        """Renew the lease every third of its length while the batch is in hand: a slow batch (a gateway timing
        out) must not look like a dead dispatcher, or another would send the same messages again."""
        every = self.settings.lease_s / 3
        while True:
            try:
                await asyncio.wait_for(finished.wait(), timeout=every)
                return
            except TimeoutError:
                pass
            try:
                async with self.sessions() as session, session.begin():
                    until = clock.now() + timedelta(seconds=self.settings.lease_s)
                    await store.renew(session, me=self.name, ids=ids, until=until)
            except Exception:  # the batch records or releases anyway; a missed renewal only risks a repeat
                log.warning("dispatcher %s: could not renew its lease", self.name, exc_info=True)

    async def _deliver(self, claimed: list[store.Claimed]) -> BatchReport:
        report = BatchReport(claimed=len(claimed))
        async with self.sessions() as session:
            people = await store.recipients(session, {m.recipient_user_id for m in claimed})
            # time zones matter only to recipients with quiet hours and no zone of their own
            zoneless = {u for u, r in people.items() if r.quiet_start and not r.timezone}
            about = {
                uuid.UUID(p)
                for m in claimed
                if m.recipient_user_id in zoneless and isinstance(p := m.payload.get("participant_id"), str)
            }
            zones_of_users, zones_of_participants = (
                await store.local_zones(session, user_ids=zoneless, participant_ids=about)
                if zoneless
                else ({}, {})
            )
            past = await store.history(session, claimed)
        now = clock.now()
        attempts: list[dict[str, object]] = []
        inbox: list[dict[str, object]] = []
        outcomes: list[dict[str, object]] = []
        sends: list[tuple[store.Claimed, DeliveryChannel, Outgoing]] = []
        plans: dict[uuid.UUID, tuple[list[Channel], datetime | None]] = {}
        for message in claimed:
            recipient = people.get(message.recipient_user_id)
            done = past.get(message.id, {})
            if recipient is None or not recipient.active:
                outcomes.append(self._outcome(message, OutboxStatus.dead, "recipient inactive", now))
                report.dead += 1
                continue
            rendered = render(
                kind=message.kind,
                category=message.category,
                severity=message.severity,
                payload=message.payload,
                link_base_url=self.settings.link_base_url,
                with_email=Channel.email in self.channels,
            )
            open_channels = [
                channel
                for channel in (Channel.in_app, *self.channels)
                if wants(recipient, message.category, channel)
                and not done.get(channel.value, store.ChannelHistory()).sent
                and not self._exhausted(done.get(channel.value))
            ]
            held_until = None
            if message.priority != "high":
                zone = recipient.timezone or zones_of_users.get(message.recipient_user_id)
                if zone is None and isinstance(p := message.payload.get("participant_id"), str):
                    zone = zones_of_participants.get(uuid.UUID(p))
                held_until = quiet_until(now, recipient.quiet_start, recipient.quiet_end, zone)
            plans[message.id] = (open_channels, held_until)
            if Channel.in_app in open_channels:
                inbox.append(self._inbox_row(message, rendered.title, rendered.body, now))
                attempts.append(
                    self._attempt(message.id, Channel.in_app, AttemptOutcome.sent, "inbox", 0, now)
                )
            if held_until is None:
                outgoing = Outgoing(
                    message_id=message.id,
                    kind=message.kind,
                    category=message.category,
                    severity=message.severity,
                    recipient_user_id=message.recipient_user_id,
                    recipient_email=recipient.email,
                    created_at=message.created_at.isoformat(),
                    rendered=rendered,
                )
                sends.extend(
                    (message, self.channels[c], outgoing) for c in open_channels if c is not Channel.in_app
                )
        results = await asyncio.gather(*(self._send(channel, out) for _m, channel, out in sends))
        fresh: dict[uuid.UUID, list[tuple[Channel, Result]]] = {}
        for (message, channel, _out), result in zip(sends, results, strict=True):
            fresh.setdefault(message.id, []).append((channel.name, result))
            attempts.append(
                self._attempt(message.id, channel.name, result.outcome, result.answer, result.latency_ms, now)
            )
        for message in claimed:
            if message.id not in plans:
                continue
            open_channels, held_until = plans[message.id]
            outcome = self._judge(message, open_channels, held_until, past.get(message.id, {}), fresh, now)
            outcomes.append(outcome)
            status = outcome["b_status"]
            report.sent += status == OutboxStatus.sent.value
            report.dead += status == OutboxStatus.dead.value
            report.held += held_until is not None and status == OutboxStatus.pending.value
            report.retried += status == OutboxStatus.pending.value and held_until is None
        async with self.sessions() as session, session.begin():
            await store.record(
                session, me=self.name, attempts=attempts, notifications=inbox, outcomes=outcomes
            )
        return report

    def _exhausted(self, entry: store.ChannelHistory | None) -> bool:
        return entry is not None and (entry.refused or entry.retries >= self.settings.max_attempts)

    async def _send(self, channel: DeliveryChannel, message: Outgoing) -> Result:
        async with self._limit:
            return await channel.send(message)

    def _judge(
        self,
        message: store.Claimed,
        open_channels: list[Channel],
        held_until: datetime | None,
        past: dict[str, store.ChannelHistory],
        fresh: dict[uuid.UUID, list[tuple[Channel, Result]]],
        now: datetime,
    ) -> dict[str, object]:
        """The message's new state from what every channel has done so far."""
        results = dict(fresh.get(message.id, []))
        retry: list[str] = []
        dead: list[str] = []
        for channel, entry in past.items():
            if self._exhausted(entry) and not entry.sent:
                dead.append(f"{channel}: gave up earlier")
        for channel, result in results.items():
            retries = past.get(channel.value, store.ChannelHistory()).retries + 1
            if result.outcome is AttemptOutcome.refused or (
                result.outcome is AttemptOutcome.retry and retries >= self.settings.max_attempts
            ):
                dead.append(f"{channel.value}: {result.answer}")
            elif result.outcome is AttemptOutcome.retry:
                retry.append(f"{channel.value}: {result.answer}")
        failed_now = any(r.outcome is not AttemptOutcome.sent for r in results.values())
        attempts = message.attempts + (1 if failed_now else 0)
        waiting = held_until is not None and any(c is not Channel.in_app for c in open_channels)
        if retry or waiting:
            due = now + backoff(self.settings, attempts) if retry else now
            if waiting and held_until is not None:
                due = held_until if not retry else min(due, held_until)
            error = "; ".join(retry + dead) or None
            return self._outcome(message, OutboxStatus.pending, error, due, attempts=attempts)
        if dead:
            log.warning("message %s is dead: %s", message.id, "; ".join(dead))
            return self._outcome(message, OutboxStatus.dead, "; ".join(dead), now, attempts=attempts)
        return self._outcome(message, OutboxStatus.sent, None, now, attempts=attempts, sent_at=now)

    @staticmethod
    def _outcome(
        message: store.Claimed,
        status: OutboxStatus,
        error: str | None,
        due: datetime,
        *,
        attempts: int | None = None,
        sent_at: datetime | None = None,
    ) -> dict[str, object]:
        return {
            "b_id": message.id,
            "b_status": status.value,
            "b_attempts": message.attempts if attempts is None else attempts,
            "b_due_at": due,
            "b_last_error": error[:500] if error else None,
            "b_sent_at": sent_at,
        }

    def _attempt(
        self,
        message_id: uuid.UUID,
        channel: Channel,
        outcome: AttemptOutcome,
        answer: str,
        ms: int,
        now: datetime,
    ) -> dict[str, object]:
        return {
            "id": uuid.uuid4(),
            "message_id": message_id,
            "channel": channel.value,
            "outcome": outcome.value,
            "provider_answer": answer[:500],
            "latency_ms": ms,
            "dispatcher": self.name,
            "attempted_at": now,
        }

    @staticmethod
    def _inbox_row(message: store.Claimed, title: str, body: str, now: datetime) -> dict[str, object]:
        participant = message.payload.get("participant_id")
        return {
            "id": uuid.uuid4(),
            "message_id": message.id,
            "recipient_user_id": message.recipient_user_id,
            "kind": message.kind,
            "category": message.category,
            "severity": message.severity,
            "title": title,
            "body": body,
            "participant_id": uuid.UUID(participant) if isinstance(participant, str) else None,
            "created_at": now,
            "read_at": None,
        }
