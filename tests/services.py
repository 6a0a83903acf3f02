"""Real services for integration and e2e tests: the machine's Redis and PostgreSQL, private ones, the server.

Every run gets its own database and key prefix. A test that must break a service starts its own
instance on a free port (`RedisServer`); the shared ones are never stopped. A missing service or
binary fails the run with a message that names it: nothing is ever skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection

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
        asyncio.run(
            self._run_in_db("CREATE TABLE stories (id uuid PRIMARY KEY, user_id uuid NOT NULL, title text)")
        )
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
            pytest.fail(
                f"PostgreSQL is not reachable at {SHARED_POSTGRES} ({exc!r}); "
                "start it or set TEST_POSTGRES_DSN"
            )
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
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="gateway-", suffix=".log")[1])
    )

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
            with urllib.request.urlopen(f"{self.http}/healthz", timeout=0.5) as response:  # noqa: S310 (http)
                return bool(response.status == 200)
        except OSError:
            return False


# Helpers of the contract and integration layers (appended; nothing above depends on them).


async def wait_for_condition(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Re-run the async probe `check` until it holds and return the seconds it took, or fail naming `what`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + timeout(seconds)
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout(seconds):.1f} s waiting for {what}")
        await asyncio.sleep(0.02)
    return loop.time() - start


async def http_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET `url` without blocking the loop; the status and the JSON body, error statuses included."""

    def get() -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(url, timeout=timeout(5)) as response:  # noqa: S310 (test URL)
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read())

    return await asyncio.to_thread(get)


@dataclass
class ProgressClient:
    """A browser stand-in over `websockets`: reads progress messages and keeps them in arrival order."""

    connection: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)

    async def read_until(
        self, done: Callable[[dict[str, Any]], bool], seconds: float = 5.0
    ) -> dict[str, Any]:
        """Read until a progress message satisfies `done`, and return it; control texts are skipped."""
        try:
            async with asyncio.timeout(timeout(seconds)):
                while True:
                    text = await self.connection.recv()
                    if isinstance(text, str) and text.startswith("{"):
                        message: dict[str, Any] = json.loads(text)
                        self.received.append(message)
                        if done(message):
                            return message
        except TimeoutError:
            pytest.fail(f"no expected message within {timeout(seconds):.1f} s; last: {self.received[-3:]}")

    async def read_seq(self, seq: int, seconds: float = 5.0) -> dict[str, Any]:
        """Read until the client holds `seq` (or a newer one)."""
        return await self.read_until(lambda m: int(m.get("seq", 0)) >= seq, seconds)

    def seqs(self) -> list[int]:
        return [int(m["seq"]) for m in self.received if "seq" in m]


def _postgres_binary(name: str) -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found and (on_path := shutil.which(name)):
        return Path(on_path)
    if not found:
        pytest.fail(
            f"{name} is not installed (looked in /usr/lib/postgresql/*/bin and on PATH): "
            "the tests need it for a private PostgreSQL"
        )
    return found[-1]


@dataclass
class PostgresServer:
    """A private PostgreSQL on a free port, for tests that stop and restart it; runs as the `postgres`
    OS user when we are root. Its data directory survives `stop()`, so `start()` brings the same data back."""

    port: int = field(default_factory=free_port)
    root: Path | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="codestory-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> PostgresServer:
        assert self.root is not None, "init() first"
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        data, log = str(self.root / "data"), str(self.root / "server.log")
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "30", "start")
        return self

    def stop(self) -> None:
        """Stop at once, as a crash would (`-m immediate`): clients see their connections cut."""
        assert self.root is not None
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        if self.root is None:
            return
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    async def create_stories(self) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.execute(
                "CREATE TABLE stories (id uuid PRIMARY KEY, user_id uuid NOT NULL, title text)"
            )
        finally:
            await conn.close()

    async def insert_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.execute("INSERT INTO stories (id, user_id) VALUES ($1, $2)", story_id, user_id)
        finally:
            await conn.close()

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(_postgres_binary(tool)), *args]
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.fail("runuser is not installed: needed to run PostgreSQL as the postgres user")
            command = [runuser, "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=timeout(60), check=False)
        if check and done.returncode != 0:
            pytest.fail(f"{tool} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")
