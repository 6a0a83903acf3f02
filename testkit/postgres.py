"""PostgreSQL for the tests: a database of the run's own on the shared server, or a private server.

The `stories` table is the main backend's: `id`, `user_id`, and a column the gateway ignores.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from testkit.processes import free_port
from testkit.waiting import timeout

SHARED_POSTGRES = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
STORIES_TABLE = "CREATE TABLE stories (id uuid PRIMARY KEY, user_id uuid NOT NULL, title text)"
INSERT_STORY = "INSERT INTO stories (id, user_id) VALUES ($1, $2)"


async def execute(dsn: str, sql: str, *args: object) -> None:
    """One statement on a connection of its own."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def asyncpg_url(dsn: str) -> str:
    """The gateway's `DATABASE_URL` for a libpq-style DSN."""
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@dataclass
class Database:
    """A database of this run's own on the shared PostgreSQL, with the `stories` table."""

    name: str = field(default_factory=lambda: f"codestory_test_{uuid.uuid4().hex[:12]}")

    @property
    def dsn(self) -> str:
        return SHARED_POSTGRES.rsplit("/", 1)[0] + "/" + self.name

    @property
    def url(self) -> str:
        return asyncpg_url(self.dsn)

    def create(self) -> Database:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        asyncio.run(execute(self.dsn, STORIES_TABLE))
        return self

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def add_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """For sync code (fixtures, browser tests); async tests await `insert_story`."""
        asyncio.run(self.insert_story(story_id, user_id))

    async def insert_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await execute(self.dsn, INSERT_STORY, story_id, user_id)

    async def insert_stories(self, rows: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """Many stories in one round trip: `(story_id, user_id)` pairs."""
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.executemany(INSERT_STORY, rows)
        finally:
            await conn.close()

    async def _admin(self, sql: str) -> None:
        try:
            await execute(SHARED_POSTGRES, sql)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(
                f"PostgreSQL is not reachable at {SHARED_POSTGRES} ({exc!r}); "
                "start it or set TEST_POSTGRES_DSN"
            )


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
        return asyncpg_url(self.dsn)

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
        await execute(self.dsn, STORIES_TABLE)

    async def insert_story(self, story_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await execute(self.dsn, INSERT_STORY, story_id, user_id)

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
