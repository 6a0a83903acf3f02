"""The two servers every scenario runs against: the real `serve`, and the ASGI floor (`bench.floor`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bench.settings import CONNECTIONS_PER_USER
from bench.world import SECRET, Story, World
from testkit.processes import GatewayProcess, gateway_env
from testkit.proctree import tree_cpu_seconds, tree_rss_bytes
from testkit.redis import SHARED_REDIS

KINDS = ("serve", "floor")
MODULES = {"serve": ("entrypoints", ("serve",)), "floor": ("bench.floor", ())}


@dataclass
class Server:
    kind: str
    process: GatewayProcess

    @property
    def ws(self) -> str:
        return self.process.ws

    def url(self, story: Story, *, sse: bool = False) -> str:
        """The story's WebSocket, or its Server-Sent Events stream."""
        return self.process.http + story.sse_path() if sse else self.process.ws + story.path()

    def cpu(self) -> float:
        """CPU seconds of the server and its children (workers)."""
        return tree_cpu_seconds(self.process.pid)

    def rss(self) -> int:
        return tree_rss_bytes(self.process.pid)

    def warnings(self) -> list[str]:
        """WARNING lines in its log so far (tokens never reach the log: `serve` redacts them)."""
        return [line for line in self.process.log().splitlines() if "WARNING" in line]


@asynccontextmanager
async def running(
    kind: str, world: World, *, ready: bool = True, workers: int = 1, redis_url: str = SHARED_REDIS,
    **overrides: str,
) -> AsyncIterator[Server]:  # fmt: skip
    """A fresh server of `kind` on a free port, ready (subscribed to the broker, and for `serve` its
    PostgreSQL pool opened by the readiness probe), or with `ready=False` only answering /healthz
    (as right after a restart); stopped after. `serve` runs `workers` processes (`--workers`), on
    `redis_url` with the settings in `overrides` (`REDIS_MODE="cluster"`), and a user may hold
    `CONNECTIONS_PER_USER` sockets (the fan-out cases are one user's sockets on one story)."""
    module, command = MODULES[kind]
    if workers > 1:
        command = (*command, "--workers", str(workers))
    limits = {"MAX_CONNECTIONS_PER_USER": str(CONNECTIONS_PER_USER)}
    env = gateway_env(redis_url, world.database.url, SECRET, world.prefix, **{**limits, **overrides})
    process = GatewayProcess(env, module=module, command=command)
    try:
        await asyncio.to_thread(process.start, ready=ready)
        if workers > 1:
            await asyncio.to_thread(process.wait_workers, workers)
        yield Server(kind, process)
    finally:
        if process.process is not None:
            await asyncio.to_thread(process.stop, wait=15)
        process.log_path.unlink(missing_ok=True)
