"""Processes of the tests: free ports, and the real `serve` command in a subprocess.

`gateway_env` is the one place where a gateway's environment is built from a run's services.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.waiting import timeout, wait_until

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def gateway_env(
    redis_url: str, database_url: str, secret: str, prefix: str, **overrides: str
) -> dict[str, str]:
    """The environment of a `serve` on this run's Redis (under `prefix`) and database."""
    base = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "JWT_SECRET": secret,
        "REDIS_KEY_PREFIX": prefix,
    }
    return {**base, **overrides}


def http_status(url: str) -> int | None:
    """The status of a GET (error statuses included), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:  # noqa: S310 (a test URL)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


class OnLoopback:
    """The URLs of a server of the tests listening on `port` of 127.0.0.1."""

    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class GatewayProcess(OnLoopback):
    """The real `serve` command in a subprocess on a free port; its log is kept for inspection.
    `module` and `command` run another server with the same environment (the bench's ASGI floor)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = ("serve",)
    module: str = "entrypoints"
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="gateway-", suffix=".log")[1])
    )

    @property
    def pid(self) -> int:
        assert self.process is not None, "the gateway is not running"
        return self.process.pid

    def start(self, *, ready: bool = False) -> GatewayProcess:
        """Start and wait for /healthz; with `ready`, for /readyz too (the broker subscription is
        up, so nothing published from now on is missed)."""
        env = {**os.environ, **self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.command],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        wait_until(
            lambda: self._answers("/healthz"), 20, f"the gateway on port {self.port} (log: {self.log_path})"
        )
        if ready:
            wait_until(
                lambda: self._answers("/readyz"), 20, f"/readyz on port {self.port} (log: {self.log_path})"
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, wait: float = 10) -> int:
        """Signal the server and return its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout(wait))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the gateway did not exit within {wait} s of signal {sig}")
        finally:
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def serving_workers(self) -> list[int]:
        """The pids of the `--workers` children that listen on the port now."""
        return [child for child in child_pids(self.pid) if tcp_sockets(child, self.port).listening]

    def worker_serving(self, client_port: int) -> int:
        """The pid of the worker that accepted the connection from local port `client_port`."""
        for child in child_pids(self.pid):
            if client_port in tcp_sockets(child, self.port).peers:
                return child
        pytest.fail(f"no worker of {self.pid} holds the connection from port {client_port}")

    def wait_workers(self, count: int, seconds: float = 20) -> list[int]:
        """Wait until `count` workers listen (and no more processes are children), and return them."""
        found: list[int] = []

        def check() -> bool:
            nonlocal found
            found = self.serving_workers()
            return len(found) == count == len(child_pids(self.pid))

        wait_until(check, seconds, f"{count} workers listening on port {self.port} (log: {self.log_path})")
        return found

    def _answers(self, path: str) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"the gateway exited with {self.process.returncode}:\n{self.log()}")
        return http_status(self.http + path) == 200


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process, from /proc (empty once it is gone)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


@dataclass(frozen=True)
class TcpSockets:
    """A process's TCP sockets on one local port: how many listen, and the peers' ports of the
    connections it accepted (a client knows its own port, so it can tell which process serves it)."""

    listening: int
    peers: frozenset[int]


_LISTEN, _ESTABLISHED = "0A", "01"


def tcp_sockets(pid: int, port: int) -> TcpSockets:
    """/proc/<pid>/fd names the socket inodes a process holds; /proc/net/tcp{,6} gives each
    inode's local and remote address and its state."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        tables = [Path(f"/proc/{pid}/net/{table}").read_text() for table in ("tcp", "tcp6")]
    except FileNotFoundError:
        return TcpSockets(0, frozenset())
    listening, peers = 0, set()
    for line in "\n".join(tables).splitlines():
        fields = line.split()
        if len(fields) < 10 or fields[9] not in inodes:  # the headers hold no inode
            continue
        if int(fields[1].rsplit(":", 1)[1], 16) != port:
            continue
        if fields[3] == _LISTEN:
            listening += 1
        elif fields[3] == _ESTABLISHED:
            peers.add(int(fields[2].rsplit(":", 1)[1], 16))
    return TcpSockets(listening, frozenset(peers))
