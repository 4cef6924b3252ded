"""The webhook's address check holds where the connection is made: a gateway name that rebinds to a private
address between two sends (DNS rebinding) never reaches that address. Real receivers on two loopback addresses
of the same port, a fake resolver for the gateway's name."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from core.models.outbox import AttemptOutcome
from notifications.channels import Outgoing, WebhookChannel
from notifications.render import render
from tests.notifications.helpers import settings
from tests.notifications.receivers import Hook, webhook_receiver


def outgoing() -> Outgoing:
    rendered = render(
        kind="alert.raised", category="alert", severity="warning", payload={}, link_base_url="x"
    )
    return Outgoing(
        uuid.uuid4(), "alert.raised", "alert", "warning", uuid.uuid4(), "", "2026-03-02", rendered
    )


class Rebinding:
    """A name server for `gateway.test` answering each lookup with the next of `answers` (TTL 0)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


async def test_a_name_rebound_to_a_private_address_is_refused_at_connect_time() -> None:
    # the gateway on 127.0.0.2 (allow-listed, standing in for a public address) closes every connection, so
    # each send connects anew; an "internal service" listens on 127.0.0.1, same port, not allow-listed
    async with webhook_receiver(Hook(close_connections=True), host="127.0.0.2") as (url, gateway):
        port = urlsplit(url).port
        assert port is not None
        async with webhook_receiver(host="127.0.0.1", port=port) as (_internal_url, internal):
            resolver = Rebinding(["127.0.0.2"], ["127.0.0.1"], ["127.0.0.2", "127.0.0.1"], ["127.0.0.2"])
            config = settings(
                webhook_url=f"http://gateway.test:{port}/hook", webhook_allow_hosts=["127.0.0.2"]
            )
            channel = WebhookChannel(config, resolve=resolver)
            try:
                results = [await channel.send(outgoing()) for _ in range(4)]
            finally:
                await channel.close()
    assert [r.outcome for r in results] == [
        AttemptOutcome.sent,
        AttemptOutcome.refused,  # rebound to loopback: refused, not connected to
        AttemptOutcome.refused,  # any address of the answer not allowed refuses the answer
        AttemptOutcome.sent,
    ]
    assert "127.0.0.1" in results[1].answer and "loopback" in results[1].answer
    assert internal.requests == []  # the private address never saw a request
    assert len(gateway.requests) == 2 and len(gateway.accepted) == 2
    # the connection went to the checked address under the gateway's name (Host kept; TLS would keep SNI)
    assert {r["headers"]["host"] for r in gateway.requests} == {f"gateway.test:{port}"}
    assert resolver.asked == [("gateway.test", port)] * 4  # resolved and checked once per connection


async def test_a_kept_alive_connection_is_reused_without_resolving_again() -> None:
    async with webhook_receiver() as (url, hook):
        port = urlsplit(url).port
        assert port is not None
        resolver = Rebinding(["127.0.0.1"])
        channel = WebhookChannel(settings(webhook_url=f"http://gateway.test:{port}/hook"), resolve=resolver)
        try:
            results = [await channel.send(outgoing()) for _ in range(3)]
        finally:
            await channel.close()
    assert [r.outcome for r in results] == [AttemptOutcome.sent] * 3 and len(hook.accepted) == 3
    assert len(resolver.asked) == 1  # one connection, checked when it was opened


async def test_a_name_that_does_not_resolve_is_retried_later() -> None:
    async def nowhere(host: str, port: int) -> list[str]:
        raise OSError(f"[Errno -2] Name or service not known: {host}")

    channel = WebhookChannel(settings(webhook_url="http://gateway.test:9/hook"), resolve=nowhere)
    try:
        result = await channel.send(outgoing())
    finally:
        await channel.close()
    assert result.outcome is AttemptOutcome.retry and "Name or service not known" in result.answer
