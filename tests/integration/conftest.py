"""Fixtures of the integration layer: a Redis client and publisher on this test's key prefix,
the real server in a subprocess, and stories owned by users with tokens."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as ClusterClient

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_cluster import open_redis_cluster
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from entrypoints.container import open_redis
from testkit.postgres import Database
from testkit.processes import GatewayProcess, gateway_env
from testkit.redis_cluster import RedisCluster

SECRET = "integration-test-secret-0123456789abcdef"
TTL_SECONDS = 600


@contextlib.asynccontextmanager
async def redis_client_at(url: str) -> AsyncIterator[Redis]:
    """A client built exactly as the gateway builds its own (no retries inside redis-py)."""
    async with contextlib.asynccontextmanager(open_redis)(url) as client:
        yield client


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[Redis]:
    async with redis_client_at(redis_url) as client:
        yield client
        keys = [key async for key in client.scan_iter(match=f"{key_prefix}*")]
        if keys:
            await client.delete(*keys)


@contextlib.asynccontextmanager
async def cluster_client_at(url: str) -> AsyncIterator[ClusterClient]:
    """A cluster client built exactly as the gateway builds its own."""
    async with contextlib.asynccontextmanager(open_redis_cluster)(url) as client:
        yield client


@pytest.fixture
async def cluster_client(redis_cluster: RedisCluster) -> AsyncIterator[ClusterClient]:
    """Keys need no cleanup: they expire, and the cluster goes away with the run."""
    async with cluster_client_at(redis_cluster.url) as client:
        yield client


@pytest.fixture
def redis_keys(key_prefix: str) -> RedisKeys:
    return RedisKeys(key_prefix)


@pytest.fixture
def redis_publisher(redis_client: Redis, redis_keys: RedisKeys) -> RedisProgressPublisher:
    return RedisProgressPublisher(redis_client, JsonCodec(), redis_keys, ttl_seconds=TTL_SECONDS)


StartGateway = Callable[..., GatewayProcess]


@pytest.fixture
def start_gateway(redis_url: str, key_prefix: str, database: Database) -> Iterator[StartGateway]:
    """Start `serve` on the shared Redis (this test's prefix) and this run's database; keyword
    arguments override environment variables (`command` replaces `("serve",)`). Every gateway
    started is stopped afterwards."""
    started: list[GatewayProcess] = []

    def start(command: tuple[str, ...] = ("serve",), **env: str) -> GatewayProcess:
        environment = gateway_env(redis_url, database.url, SECRET, key_prefix, **env)
        process = GatewayProcess(environment, command=command).start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None:
            process.stop()


@dataclass(frozen=True)
class OwnedStory:
    id: uuid.UUID
    user: uuid.UUID
    token: str

    def path(self) -> str:
        return f"/ws/stories/{self.id}/progress?token={self.token}"


def issue_token(user: uuid.UUID) -> str:
    return JwtTokenIssuer(SECRET).issue(user, ttl_seconds=TTL_SECONDS)


NewStory = Callable[[], Awaitable[OwnedStory]]


@pytest.fixture
def new_story(database: Database) -> NewStory:
    """A story of a new user in this run's database, with a token of that user."""

    async def make() -> OwnedStory:
        story, user = uuid.uuid4(), uuid.uuid4()
        await database.insert_story(story, user)
        return OwnedStory(story, user, issue_token(user))

    return make
