"""`ProgressFeedContract` over Redis (the in-memory run is in tests/unit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from testkit.redis import RedisServer
from tests.contracts.progress import (
    BreakableFeed,
    ProgressFeedContract,
    ProgressFeedOutageContract,
    ProgressPorts,
)
from tests.integration.conftest import TTL_SECONDS, redis_client_at


class RedisRawChannel:
    """A foreign publisher: a plain PUBLISH on the story's prefixed channel."""

    def __init__(self, client: Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def channel(self, story_id: UUID) -> str:
        return self._keys.channel(story_id)

    async def send(self, story_id: UUID, data: bytes) -> None:
        await self._client.publish(self.channel(story_id), data)

    async def revoke(self, data: bytes) -> None:
        await self._client.publish(self._keys.revocations, data)


@pytest.fixture
def progress_ports(redis_client: Redis, redis_keys: RedisKeys) -> ProgressPorts:
    codec = JsonCodec()
    return ProgressPorts(
        feed=RedisProgressFeed(redis_client, codec, redis_keys),
        publisher=RedisProgressPublisher(redis_client, codec, redis_keys, ttl_seconds=TTL_SECONDS),
        raw=RedisRawChannel(redis_client, redis_keys),
    )


class TestRedisProgressFeed(ProgressFeedContract):
    pass


@pytest.fixture
async def breakable_feed(key_prefix: str) -> AsyncIterator[BreakableFeed]:
    """Over a private redis-server, which `fail` kills: the shared one is never stopped."""
    server = await asyncio.to_thread(RedisServer().start)
    try:
        async with redis_client_at(server.url) as client:
            feed = RedisProgressFeed(client, JsonCodec(), RedisKeys(key_prefix))
            yield BreakableFeed(feed=feed, fail=lambda: asyncio.to_thread(server.stop))
    finally:
        server.stop()


class TestRedisProgressFeedOutage(ProgressFeedOutageContract):
    pass
