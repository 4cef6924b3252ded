"""Starting and stopping the processes the benchmark owns, CPU pinning, free ports, and reading peak RSS."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerFailed(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """Prefix `command` with taskset when pinning is possible (taskset present and a CPU given)."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    pid: int = 0  # the process that listens on `port` (the one measured), found once it is up

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Processes:
    """Every server started through here is stopped by stop_all(), whatever happened meanwhile."""

    running: list[Server] = field(default_factory=list)

    def start(
        self,
        *,
        name: str,
        command: list[str],
        port: int,
        env: dict[str, str],
        log_path: Path,
        cpu: int | None,
        cwd: Path,
        timeout_s: float = 60.0,
    ) -> Server:
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                pinned(command, cpu),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C reaches only the driver, which then stops the group.
                start_new_session=True,
            )
        server = Server(name=name, popen=popen, port=port, log_path=log_path)
        self.running.append(server)
        _wait_for_port(server, timeout_s)
        server.pid = listening_pid(popen.pid, port) or popen.pid
        return server

    def stop(self, server: Server) -> None:
        if server in self.running:
            self.running.remove(server)
        _stop_group(server.popen)

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1])


def _stop_group(popen: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if popen.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(popen.pid, sig)  # the group this driver created for the server (start_new_session)
        except ProcessLookupError:
            return
        try:
            popen.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_port(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with status {server.popen.returncode} before listening; "
                f"its log ends:\n{log_tail(server.log_path)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerFailed(
        f"{server.name} did not listen on port {server.port} within {timeout_s:.0f} s; "
        f"its log ends:\n{log_tail(server.log_path)}"
    )


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":  # 0A: LISTEN
                inodes.add(cols[9])
    return inodes


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def listening_pid(root: int, port: int) -> int | None:
    """The process under `root` that holds the listening socket (a supervisor may sit above it)."""
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for pid in _descendants(root):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                    return pid
        except OSError:
            continue
    return None


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of `pid`, in KiB; empty if the process is gone."""
    figures: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                figures[key] = int(value.split()[0])
    except OSError:
        pass
    return figures


def reset_peak_rss(pid: int) -> bool:
    """Restart VmHWM from the current RSS (Linux clear_refs "5"), so a run's peak is its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False
