"""Redis for the tests: the machine's shared server, or a private one on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from testkit.processes import free_port, port_open
from testkit.waiting import wait_until

SHARED_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PRIVATE_OPTIONS = ("--save", "", "--appendonly", "no")


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: the tests need it to start a private Redis")
    return binary


@dataclass
class RedisServer:
    """A private redis-server on a free port, for tests that stop and restart it."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [redis_server_binary(), *("--port", str(self.port), "--bind", "127.0.0.1"), *PRIVATE_OPTIONS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open("127.0.0.1", self.port), 10, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def reachable_redis() -> tuple[str, RedisServer | None]:
    """The machine's Redis when it answers, else a private one (or a failure naming redis-server)."""
    host, port = SHARED_REDIS.split("//", 1)[1].split("/", 1)[0].split(":")
    if port_open(host, int(port)):
        return SHARED_REDIS, None
    server = RedisServer().start()
    return server.url, server
