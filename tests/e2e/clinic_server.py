"""The real service for browser tests: migrated, demo-loaded SQLite in a temporary folder, uvicorn on a free
127.0.0.1 port, and headless Debian Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is not installed (`make browser` installs it where apt-get may run)"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


@dataclass(frozen=True)
class Server:
    url: str
    folder: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_server(folder: Path, database_url: str | None = None) -> Iterator[Server]:
    """`make run` in miniature: migrate, load the demo, serve; stopped (and waited for) at the end.

    `database_url`: an empty database to use (the PostgreSQL leg's); None: a SQLite file in `folder`.
    """
    env = {**os.environ, "GLUCODIARY_DATA_DIR": str(folder), "GLUCODIARY_ENV": "development"}
    env.pop("GLUCODIARY_DB__URL", None)
    if database_url:
        env["GLUCODIARY_DB__URL"] = database_url
    for command in ("migrate", "demo"):
        subprocess.run([sys.executable, "-m", "core.cli", command], env=env, check=True, capture_output=True)
    port = free_port()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the service did not start; see {folder / 'server.log'}")
        yield Server(url, folder)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
