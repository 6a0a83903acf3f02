"""Processes of the tests: free ports, and the real `serve` command in a subprocess.

`gateway_env` is the one place where a gateway's environment is built from a run's services.
"""

from __future__ import annotations

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


@dataclass
class GatewayProcess:
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
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

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
