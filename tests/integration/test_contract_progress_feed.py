"""`ProgressFeedContract` over Redis (the in-memory run is in tests/unit; `progress_ports` is the
conftest's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressFeed
from testkit.redis import RedisServer
from tests.contracts.progress_feed import BreakableFeed, ProgressFeedContract, ProgressFeedOutageContract
from tests.integration.conftest import redis_client_at


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
