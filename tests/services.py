"""Real services for integration and e2e tests: the machine's Redis and PostgreSQL, private ones, the server.

Every run gets its own database and key prefix. A test that must break a service starts its own
instance on a free port (`RedisServer`); the shared ones are never stopped. A missing service or
binary fails the run with a message that names it: nothing is ever skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SHARED_POSTGRES = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TIMEOUT_SCALE = float(os.environ.get("TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds: float) -> float:
    """The one timeout unit of the tests; TEST_TIMEOUT_SCALE stretches it on a slow machine."""
    return seconds * TIMEOUT_SCALE


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


def wait_until(check: object, seconds: float, what: str) -> None:
    """Poll `check()` (a cheap local probe) until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout(seconds)
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class RedisServer:
    """A private redis-server on a free port, for tests that stop and restart it."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: the tests need it to start a private Redis")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
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


@dataclass
class Database:
    """A database of this run's own on the shared PostgreSQL, with the `stories` table."""

    name: str = field(default_factory=lambda: f"codestory_test_{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        base = SHARED_POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{self.name}"

    @property
    def dsn(self) -> str:
        return SHARED_POSTGRES.rsplit("/", 1)[0] + "/" + self.name

    def create(self) -> Database:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        asyncio.run(self._run_in_db(
            "CREATE TABLE stories (id uuid PRIMARY KEY, user_id uuid NOT NULL, title text)"
        ))
        return self

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def add_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """For sync code (fixtures, browser tests); async tests await `insert_story`."""
        asyncio.run(self.insert_story(story_id, user_id))

    async def insert_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._run_in_db("INSERT INTO stories (id, user_id) VALUES ($1, $2)", story_id, user_id)

    async def _admin(self, sql: str) -> None:
        try:
            conn = await asyncpg.connect(SHARED_POSTGRES, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL is not reachable at {SHARED_POSTGRES} ({exc!r}); start it or set TEST_POSTGRES_DSN")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def _run_in_db(self, sql: str, *args: object) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()


@dataclass
class GatewayProcess:
    """The real `serve` command in a subprocess on a free port; its log is kept for inspection."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="gateway-", suffix=".log")[1]))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        env = {**os.environ, **self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "entrypoints", "serve"], env=env, cwd=ROOT, stdout=log, stderr=log
            )
        wait_until(self._healthy, 20, f"the gateway on port {self.port} (log: {self.log_path})")
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

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"the gateway exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.http}/healthz", timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:
            return False
