"""Real receivers on 127.0.0.1 for the delivery tests: an aiosmtpd SMTP server and an HTTP webhook receiver
(uvicorn serving a small ASGI app on a socket bound to port 0). No transport is mocked."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller

SECRET = "test-webhook-secret-0123456789abcdef"


class _MailHandler:
    def __init__(self, box: list[EmailMessage]) -> None:
        self.box = box

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.box.append(message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default))
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[int, list[EmailMessage]]]:
    """aiosmtpd on a free port of 127.0.0.1; yields (port, the messages it received)."""
    box: list[EmailMessage] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_MailHandler(box), hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield port, box
    finally:
        await asyncio.to_thread(controller.stop)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Hook:
    """What the webhook receiver heard, and how it answers (tests change `status`, `delay`, `fail_rate`)."""

    status: int = 200
    delay: float = 0.0
    fail_rate: float = 0.0
    location: str = ""
    accepted: Counter[str] = field(default_factory=Counter)  # Idempotency-Key -> accepted (2xx) deliveries
    requests: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    keep_requests: bool = True
    journal: str = ""  # a file each accepted Idempotency-Key is appended to (receivers in other processes)
    close_connections: bool = False  # answer `Connection: close`, so each request opens a new connection

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        timestamp = headers.get("x-glucodiary-timestamp", "")
        expected = (
            "sha256="
            + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, headers.get("x-glucodiary-signature", "")):
            self.bad_signatures += 1
        if self.keep_requests:
            self.requests.append({"path": scope["path"], "headers": headers, "body": body})
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.status
        if self.fail_rate and random.random() < self.fail_rate:
            status = 500
        if self.journal and expected != headers.get("x-glucodiary-signature", ""):
            status = 401  # a gateway refuses a body it cannot verify (the message would then be dead)
        if 200 <= status < 300 and scope["path"] == "/hook":
            key = headers.get("idempotency-key", "")
            self.accepted[key] += 1
            if self.journal:
                with open(self.journal, "a") as journal:  # one short O_APPEND write: whole lines only
                    journal.write(key + "\n")
        extra = [(b"location", self.location.encode())] if self.location else []
        if self.close_connections:
            extra.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"{}" if status < 300 else b"no"})


@asynccontextmanager
async def webhook_receiver(
    hook: Hook | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[str, Hook]]:
    """uvicorn serving `hook` on `host` (a loopback address), on `port` or a free one; yields (the /hook URL,
    the hook)."""
    hook = hook or Hook()
    sock = socket.socket()
    sock.bind((host, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(hook, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}/hook", hook
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextmanager
def webhook_processes(journal: str, *, fail_rate: float, processes: int = 2) -> Iterator[str]:
    """`processes` receiver processes (`python -m tests.notifications.receivers`) on one free port of 127.0.0.1
    (SO_REUSEPORT), each appending the keys it accepted to `journal`; yields the /hook URL."""
    children: list[subprocess.Popen[str]] = []
    port = 0
    try:
        for _ in range(processes):
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.notifications.receivers", journal, str(fail_rate), str(port)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            children.append(child)
            assert child.stdout is not None
            port = int(child.stdout.readline())  # printed once it listens
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)


def _serve_main(journal: str, fail_rate: float, port: int) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        Hook(fail_rate=fail_rate, keep_requests=False, journal=journal),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])


def journal_keys(path: str) -> Counter[str]:
    with open(path) as journal:
        return Counter(line.strip() for line in journal if line.strip())


if __name__ == "__main__":
    _serve_main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
