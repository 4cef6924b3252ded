"""The channels beyond the in-app inbox: one small interface, e-mail over SMTP and a signed HTTP webhook.

A channel sends one message and answers an Outcome: sent, retry (worth another attempt later) or refused
(will not change by retrying). It never raises for a delivery problem.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from core.config import NotificationSettings
from core.models.outbox import AttemptOutcome, Channel
from notifications.render import Rendered
from notifications.targets import AddressPolicy, CheckedTransport, Resolver, TargetRefused, system_resolver

SIGNATURE_HEADER = "X-Glucodiary-Signature"
TIMESTAMP_HEADER = "X-Glucodiary-Timestamp"
RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Outgoing:
    """What a channel needs of one message: who, what (already rendered), and its id for idempotency."""

    message_id: uuid.UUID
    kind: str
    category: str
    severity: str
    recipient_user_id: uuid.UUID
    recipient_email: str
    created_at: str
    rendered: Rendered


@dataclass(frozen=True)
class Result:
    outcome: AttemptOutcome
    answer: str
    latency_ms: int


class DeliveryChannel(Protocol):
    name: Channel

    async def send(self, message: Outgoing) -> Result: ...

    async def close(self) -> None: ...


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class EmailChannel:
    """SMTP through the standard library, in a worker thread (one connection per message)."""

    name = Channel.email

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.domain = settings.smtp_from.rpartition("@")[2] or "glucodiary.invalid"

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.smtp_from
        mail["To"] = message.recipient_email
        mail["Subject"] = message.rendered.email_subject
        mail["Date"] = formatdate(usegmt=True)
        # derived from the message id: a retried e-mail carries the same Message-ID, so clients fold repeats
        mail["Message-ID"] = f"<{message.message_id}@{self.domain}>"
        mail.set_content(message.rendered.email_text)
        mail.add_alternative(message.rendered.email_html, subtype="html")
        return mail

    def _send_blocking(self, mail: EmailMessage) -> str:
        s = self.settings
        smtp_class = smtplib.SMTP_SSL if s.smtp_tls == "tls" else smtplib.SMTP
        with smtp_class(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
            if s.smtp_tls == "starttls":
                smtp.starttls()
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            refused = smtp.send_message(mail)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
            return "250 accepted"

    async def send(self, message: Outgoing) -> Result:
        started = time.perf_counter()
        try:
            answer = await asyncio.to_thread(self._send_blocking, self.build(message))
            return Result(AttemptOutcome.sent, answer, _elapsed_ms(started))
        except smtplib.SMTPResponseException as exc:
            outcome = AttemptOutcome.refused if exc.smtp_code >= 500 else AttemptOutcome.retry
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
            return Result(outcome, f"{exc.smtp_code} {text}"[:500], _elapsed_ms(started))
        except smtplib.SMTPRecipientsRefused as exc:
            return Result(
                AttemptOutcome.refused, f"recipient refused: {exc.recipients}"[:500], _elapsed_ms(started)
            )
        except (OSError, smtplib.SMTPException) as exc:  # unreachable, timed out, connection dropped
            return Result(AttemptOutcome.retry, f"{type(exc).__name__}: {exc}"[:500], _elapsed_ms(started))

    async def close(self) -> None:
        return None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` HMAC of `timestamp.body`: the receiver recomputes it and rejects old timestamps."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_body(message: Outgoing) -> bytes:
    return orjson.dumps(
        {
            "message_id": str(message.message_id),
            "kind": message.kind,
            "category": message.category,
            "severity": message.severity,
            "recipient_user_id": str(message.recipient_user_id),
            "text": message.rendered.short_text,
            "created_at": message.created_at,
        }
    )


class WebhookChannel:
    """A signed POST to an SMS or push gateway; no redirects followed, private targets refused where the
    connection is made (notifications/targets.py: no DNS rebinding between the check and the connection)."""

    name = Channel.webhook

    def __init__(self, settings: NotificationSettings, resolve: Resolver = system_resolver) -> None:
        self.settings = settings
        self.url = settings.webhook_url
        self.secret = (settings.webhook_secret.get_secret_value() if settings.webhook_secret else "").encode()
        limits = httpx.Limits(
            max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
        )
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            follow_redirects=False,
            transport=CheckedTransport(
                limits=limits, policy=AddressPolicy(settings.webhook_allow_hosts), resolve=resolve
            ),
        )

    async def send(self, message: Outgoing) -> Result:
        started = time.perf_counter()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            why = f"webhook url {self.url!r} is not an http(s) URL"
            return Result(AttemptOutcome.refused, why, _elapsed_ms(started))
        body = webhook_body(message)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(message.message_id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        try:
            answer = await self.client.post(self.url, content=body, headers=headers)
        except TargetRefused as exc:  # checked when connecting, on the address connected to
            return Result(AttemptOutcome.refused, str(exc)[:500], _elapsed_ms(started))
        except httpx.HTTPError as exc:  # timeouts, refused connections, names not resolving, protocol errors
            return Result(AttemptOutcome.retry, f"{type(exc).__name__}: {exc}"[:500], _elapsed_ms(started))
        status = answer.status_code
        text = f"{status} {answer.text[:200]}".strip()
        if 200 <= status < 300:
            return Result(AttemptOutcome.sent, text[:500], _elapsed_ms(started))
        if status >= 500 or status in RETRYABLE_STATUSES:
            return Result(AttemptOutcome.retry, text[:500], _elapsed_ms(started))
        # a redirect (never followed: the gateway's address is configured, not discovered) or another 4xx
        where = f" to {answer.headers.get('location', '?')}" if 300 <= status < 400 else ""
        return Result(AttemptOutcome.refused, f"{text}{where}"[:500], _elapsed_ms(started))

    async def close(self) -> None:
        await self.client.aclose()


def configured_channels(settings: NotificationSettings) -> list[DeliveryChannel]:
    """The channels the settings turn on, besides the in-app inbox (always on)."""
    channels: list[DeliveryChannel] = []
    if settings.smtp_host:
        channels.append(EmailChannel(settings))
    if settings.webhook_url:
        channels.append(WebhookChannel(settings))
    return channels
