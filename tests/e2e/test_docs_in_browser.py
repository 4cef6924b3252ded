"""A real headless Chromium opens /docs from a running service and renders it from the service's own files."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_docs_render_with_no_outside_request(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "GLUCODIARY_DATA_DIR": str(tmp_path), "GLUCODIARY_LOG_LEVEL": "INFO"}
    env.pop("GLUCODIARY_DB__URL", None)
    subprocess.run([sys.executable, "-m", "core.cli", "migrate"], env=env, check=True, capture_output=True)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert CHROMIUM is not None
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                f"http://127.0.0.1:{port}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    # Swagger UI rendered the service's own OpenAPI document: the operations are in the page
    assert "swagger-ui" in dom and 'class="title"' in dom
    assert "/health" in dom and "/ready" in dom
    requested = re.findall(r"\] GET (\S+) ", (tmp_path / "server.log").read_text())
    assert "/docs-assets/swagger-ui-bundle.js" in requested and "/openapi.json" in requested
