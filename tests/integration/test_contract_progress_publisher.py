"""`ProgressPublisherContract` over Redis (the in-memory run is in tests/unit)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from tests.contracts.progress import ProgressPorts, ProgressPublisherContract
from tests.integration.conftest import TTL_SECONDS
from tests.integration.test_contract_progress_feed import RedisRawChannel


@pytest.fixture
def progress_ports(redis_client: Redis, redis_keys: RedisKeys) -> ProgressPorts:
    codec = JsonCodec()
    return ProgressPorts(
        feed=RedisProgressFeed(redis_client, codec, redis_keys),
        publisher=RedisProgressPublisher(redis_client, codec, redis_keys, ttl_seconds=TTL_SECONDS),
        raw=RedisRawChannel(redis_client, redis_keys),
    )


class TestRedisProgressPublisher(ProgressPublisherContract):
    pass
