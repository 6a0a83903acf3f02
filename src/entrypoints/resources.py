"""What the container opens and closes: the Redis client, the engine, the running hub.

Each is an async context manager, as dependency-injector's `Resource` wants; the Litestar
lifespan (or a command) initialises them and shuts them down in reverse order.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres_stories import make_engine
from domain.hub.hub import ProgressHub

# A silently dead Redis connection (no reset) is found within about 10 + 3 x 5 = 25 s.
KEEPALIVE = {socket.TCP_KEEPIDLE: 10, socket.TCP_KEEPINTVL: 5, socket.TCP_KEEPCNT: 3}


@asynccontextmanager
async def open_redis(url: str, max_connections: int = 64, pool_timeout: float = 2.0) -> AsyncIterator[Redis]:
    """No retries inside redis-py: a failure must reach the hub, which resubscribes and resyncs.
    A burst of connects waits for a pooled connection (bounded) instead of failing: redis-py's
    default pool raises `MaxConnectionsError` at once, which would look like a Redis fault."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_connect_timeout=2.0,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        protocol=2,  # pub/sub messages as plain replies, read straight off the connection
    )
    client = Redis.from_pool(pool)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def open_engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def running(hub: ProgressHub) -> AsyncIterator[ProgressHub]:
    """The hub with its listener and background work started, stopped on the way out."""
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
