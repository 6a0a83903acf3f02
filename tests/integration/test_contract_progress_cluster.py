"""The feed and publisher contracts over the private Redis Cluster (sharded pub/sub, hash-tagged keys)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
from redis.asyncio.cluster import RedisCluster as ClusterClient

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from adapters.redis_cluster_feed import ClusterProgressFeed
from domain.values import Topic
from testkit.redis_cluster import RedisCluster
from tests.contracts.progress import ProgressPorts, ProgressPublisherContract
from tests.contracts.progress_feed import BreakableFeed, ProgressFeedContract, ProgressFeedOutageContract
from tests.integration.conftest import TTL_SECONDS, cluster_client_at


class ClusterRawChannel:
    """A foreign publisher: a plain SPUBLISH on the story's sharded channel."""

    def __init__(self, client: ClusterClient, keys: ClusterKeys) -> None:
        self._client = client
        self._keys = keys

    def channel(self, story_id: UUID) -> str:
        return self._keys.story_channel(story_id)

    async def send(self, story_id: UUID, data: bytes) -> None:
        await self._client.spublish(self.channel(story_id), data)

    async def revoke(self, data: bytes) -> None:
        await self._client.spublish(self._keys.revocations, data)


@pytest.fixture
def progress_ports(cluster_client: ClusterClient, key_prefix: str) -> ProgressPorts:
    codec, keys = JsonCodec(), ClusterKeys(key_prefix)
    feed = ClusterProgressFeed(cluster_client, codec, keys)
    return ProgressPorts(
        feed=feed,
        publisher=ClusterProgressPublisher(cluster_client, codec, keys, ttl_seconds=TTL_SECONDS),
        raw=ClusterRawChannel(cluster_client, keys),
        topics=feed,
    )


class TestClusterProgressFeed(ProgressFeedContract):
    pass


class TestClusterProgressPublisher(ProgressPublisherContract):
    pass


@pytest.fixture
async def breakable_feed(key_prefix: str) -> AsyncIterator[BreakableFeed]:
    """Over a small cluster of its own (3 masters), which `fail` kills whole. The feed watches a
    story: a per-topic feed with nothing watched holds no subscription that could fail."""
    cluster = await asyncio.to_thread(RedisCluster(size=3, replicas=0).start)
    try:
        async with cluster_client_at(cluster.url) as client:
            feed = ClusterProgressFeed(client, JsonCodec(), ClusterKeys(key_prefix))
            await feed.watch([Topic("story", uuid.uuid4())])
            yield BreakableFeed(feed=feed, fail=lambda: asyncio.to_thread(cluster.stop))
    finally:
        cluster.stop()


class TestClusterProgressFeedOutage(ProgressFeedOutageContract):
    pass
