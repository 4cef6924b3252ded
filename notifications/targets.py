"""Where a webhook may connect: the address check made at the moment of connecting, on the address connected to.

A check that resolves the gateway's name and then lets the HTTP client resolve it again can be bypassed by DNS
rebinding: the name answers a public address to the check and a private one (say 169.254.169.254) a moment
later to the connection. Here the HTTP client's network backend resolves the name itself, refuses it if any of
its addresses is private, loopback or link-local (unless allow-listed), and opens the TCP connection to the very
addresses it checked. The URL is not rewritten, so the Host header, TLS SNI and certificate check keep the
gateway's name. Kept-alive connections are reused without resolving again: they lead to a checked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

# (host, port) -> the addresses the name resolves to now; tests pass a fake one
Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(Exception):
    """The webhook's host resolves to an address the settings do not allow."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressPolicy:
    """Public addresses pass; private, loopback, link-local and the like only when allow-listed."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = [ipaddress.ip_network(entry, strict=False) for entry in allowed]

    def permitted(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.allowed):
            return True
        return ip.is_global and not ip.is_multicast

    def refuse(self, host: str, addresses: list[str]) -> None:
        refused = sorted(a for a in addresses if not self.permitted(a))
        if refused:
            raise TargetRefused(
                f"webhook host {host} resolves to {', '.join(refused)}, a private, loopback or link-local "
                "address not in GLUCODIARY_NOTIFICATIONS__WEBHOOK_ALLOW_HOSTS"
            )


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check between resolving and connecting."""

    def __init__(self, policy: AddressPolicy, resolve: Resolver) -> None:
        self.policy = policy
        self.resolve = resolve
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolve(host, port), timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:  # the name does not resolve (now): worth another try later
            raise httpcore.ConnectError(f"resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"resolve {host}: no address")
        self.policy.refuse(host, addresses)
        failure: Exception | None = None
        for address in addresses:  # each one checked above; the name is not looked up again
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a webhook is reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (no proxy, no environment) whose connections go through CheckedBackend."""

    def __init__(self, *, limits: httpx.Limits, policy: AddressPolicy, resolve: Resolver) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(policy, resolve),
        )
