"""Fixtures of the integration layer: a Redis client and publisher on this test's key prefix,
the real server in a subprocess (standalone or on a Redis Cluster), stories owned by users with
tokens, and the Redis side of the progress contracts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.exceptions import RedisClusterException, RedisError
from websockets.asyncio.client import connect

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher, open_redis_cluster
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from entrypoints.resources import open_redis
from testkit.clients import ProgressClient
from testkit.postgres import Database
from testkit.processes import GatewayProcess, gateway_env
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout
from tests.contracts.progress import ProgressPorts, make_update

SECRET = "integration-test-secret-0123456789abcdef"
TTL_SECONDS = 600


@contextlib.asynccontextmanager
async def redis_client_at(url: str) -> AsyncIterator[Redis]:
    """A client built exactly as the gateway builds its own (no retries inside redis-py)."""
    async with open_redis(url) as client:
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
    async with open_redis_cluster(url) as client:
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


StartClusterGateway = Callable[..., GatewayProcess]  # (cluster, **environment overrides)


@pytest.fixture
def start_cluster_gateway(key_prefix: str, database: Database) -> Iterator[StartClusterGateway]:
    """Start `serve` in cluster mode on a cluster (this test's prefix, this run's database) and wait
    for /readyz; every gateway started is stopped afterwards."""
    started: list[GatewayProcess] = []

    def start(cluster: RedisCluster, **overrides: str) -> GatewayProcess:
        env = gateway_env(cluster.url, database.url, SECRET, key_prefix, REDIS_MODE="cluster", **overrides)
        process = GatewayProcess(env)
        started.append(process)
        return process.start(ready=True)

    yield start
    for process in started:
        if process.process is not None:
            process.stop()


@pytest.fixture
async def cluster_publisher(
    redis_cluster: RedisCluster, key_prefix: str
) -> AsyncIterator[ClusterProgressPublisher]:
    async with cluster_client_at(redis_cluster.url) as client:
        yield publisher_on(client, key_prefix)


def publisher_on(client: ClusterClient, prefix: str) -> ClusterProgressPublisher:
    return ClusterProgressPublisher(client, JsonCodec(), ClusterKeys(prefix), ttl_seconds=TTL_SECONDS)


async def client_of(stack: AsyncExitStack, gateway: GatewayProcess, path: str) -> ProgressClient:
    connection = await stack.enter_async_context(connect(gateway.ws + path, open_timeout=timeout(5)))
    return ProgressClient(connection)


def story_path(story: uuid.UUID, token: str) -> str:
    return f"/ws/stories/{story}/progress?token={token}"


def dashboard_path(token: str) -> str:
    return f"/ws/user/stories?token={token}"


def of_story(story: uuid.UUID, seq: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("story_id") == str(story) and int(m.get("seq", 0)) >= seq


class RedisRawChannel:
    """A foreign publisher: a plain PUBLISH on the story's prefixed channel."""

    def __init__(self, client: Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def channel(self, story_id: uuid.UUID) -> str:
        return self._keys.story_channel(story_id)

    async def send(self, story_id: uuid.UUID, data: bytes) -> None:
        await self._client.publish(self.channel(story_id), data)

    async def revoke(self, data: bytes) -> None:
        await self._client.publish(self._keys.revocations, data)


@pytest.fixture
def progress_ports(redis_client: Redis, redis_keys: RedisKeys) -> ProgressPorts:
    """The Redis feed and publisher for the progress contracts (the cluster's run has its own)."""
    codec = JsonCodec()
    return ProgressPorts(
        feed=RedisProgressFeed(redis_client, codec, redis_keys),
        publisher=RedisProgressPublisher(redis_client, codec, redis_keys, ttl_seconds=TTL_SECONDS),
        raw=RedisRawChannel(redis_client, redis_keys),
    )


@dataclass(frozen=True)
class TwoWorkers:
    gateway: GatewayProcess
    story: OwnedStory
    workers: list[int]  # the workers' pids


@pytest.fixture
async def two_workers(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> TwoWorkers:
    """`serve --workers 2` with both workers serving, and a story whose snapshot is seq 1."""
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 10))
    gateway = start_gateway(command=("serve", "--workers", "2"))
    workers = await asyncio.to_thread(gateway.wait_workers, 2)
    return TwoWorkers(gateway, story, workers)


def stories(count: int, keep: Callable[[uuid.UUID], bool] = lambda _: True) -> list[uuid.UUID]:
    """`count` new story ids for which `keep` holds (a slot on a given master, say)."""
    return list(itertools.islice(filter(keep, iter(uuid.uuid4, None)), count))


async def keep_publishing(
    publisher: ClusterProgressPublisher,
    story: uuid.UUID,
    owner: uuid.UUID,
    published: list[ProgressUpdate],
    stop: asyncio.Event,
) -> None:
    """A worker that keeps going through the failover: a failed publish is simply tried again."""
    for percent in itertools.cycle(range(2, 99)):
        if stop.is_set():
            return
        with contextlib.suppress(RedisError, RedisClusterException, OSError):
            published.append(await publisher.publish(make_update(story, percent=percent), owner))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)  # the worker's pace
