"""The cluster adapters against the private Redis Cluster: per-topic subscriptions, the owner's
channel, the confirmation wait, and a master's failover healed by resubscribing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio.cluster import RedisCluster as ClusterClient

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from adapters.redis_cluster_feed import ClusterProgressFeed
from adapters.redis_cluster_subscription import ShardedSubscription
from domain.values import FeedEvent, OwnerUpdate, Topic
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update, next_event, subscribed
from tests.integration.conftest import TTL_SECONDS, cluster_client_at, stories

logger = logging.getLogger(__name__)


@pytest.fixture
def keys(key_prefix: str) -> ClusterKeys:
    return ClusterKeys(key_prefix)


@pytest.fixture
def feed(cluster_client: ClusterClient, keys: ClusterKeys) -> ClusterProgressFeed:
    return ClusterProgressFeed(cluster_client, JsonCodec(), keys)


@pytest.fixture
def publisher(cluster_client: ClusterClient, keys: ClusterKeys) -> ClusterProgressPublisher:
    return ClusterProgressPublisher(cluster_client, JsonCodec(), keys, ttl_seconds=TTL_SECONDS)


async def subscribers(client: ClusterClient, channel: str) -> int:
    """What the channel's master says: how many connections are subscribed to it."""
    node = client.get_node_from_key(channel)
    reply = await client.execute_command("PUBSUB", "SHARDNUMSUB", channel, target_nodes=node)
    return int(reply[1])


async def test_only_watched_stories_arrive(
    feed: ClusterProgressFeed,
    publisher: ClusterProgressPublisher,
    cluster_client: ClusterClient,
    keys: ClusterKeys,
) -> None:
    watched, unwatched, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed.watch([Topic("story", watched)])
    async with subscribed(feed) as events:
        await publisher.publish(make_update(unwatched), owner)
        sent = [await publisher.publish(make_update(watched, percent=p), owner) for p in (10, 20)]
        received = [await next_event(events) for _ in sent]

        assert received == sent
        assert await subscribers(cluster_client, keys.story_channel(unwatched)) == 0
        assert await subscribers(cluster_client, keys.story_channel(watched)) == 1

        await feed.unwatch([Topic("story", watched)])

        async def unsubscribed() -> bool:
            return await subscribers(cluster_client, keys.story_channel(watched)) == 0

        await wait_for_condition(unsubscribed, 3, "the story's channel to lose its subscriber")
        await feed.watch([Topic("story", watched)])
        again = await publisher.publish(make_update(watched, percent=30), owner)
        assert await next_event(events) == again


async def test_a_user_channel_update_arrives_as_an_owner_update(
    feed: ClusterProgressFeed, publisher: ClusterProgressPublisher
) -> None:
    owner = uuid.uuid4()
    async with subscribed(feed) as events:
        await feed.watch([Topic("user", owner)])
        published = await publisher.publish(make_update(uuid.uuid4()), owner)

        assert await next_event(events) == OwnerUpdate(owner, published)


async def test_publish_without_an_owner_is_refused(publisher: ClusterProgressPublisher) -> None:
    with pytest.raises(ValueError, match="owner"):
        await publisher.publish(make_update(uuid.uuid4()))


async def test_a_message_published_right_after_watch_is_never_lost(
    feed: ClusterProgressFeed, redis_cluster: RedisCluster, cluster_client: ClusterClient, keys: ClusterKeys
) -> None:
    """20 channels over all 3 masters, watched by 20 callers at once while the feed runs, each
    published to at once by a worker of its own (another client, all 20 publishes together)."""
    watched = stories(20)
    while len({redis_cluster.master_of(keys.story_channel(s)).port for s in watched}) < 3:
        watched = stories(20)
    received: list[FeedEvent] = []
    async with subscribed(feed) as events:
        reader = asyncio.create_task(collect(events, received))
        try:
            await asyncio.gather(*(feed.watch([Topic("story", s)]) for s in watched))  # 20 clients at once
            async with cluster_client_at(redis_cluster.url) as worker:
                publisher = ClusterProgressPublisher(worker, JsonCodec(), keys, ttl_seconds=TTL_SECONDS)
                await worker.initialize()
                sent = await asyncio.gather(
                    *(publisher.publish(make_update(s), uuid.uuid4()) for s in watched)
                )

            async def all_arrived() -> bool:
                return len(received) >= len(sent)

            await wait_for_condition(all_arrived, 5, "an update on each of the 20 channels")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    assert sorted(received, key=str) == sorted(sent, key=str)


async def collect(events: AsyncIterator[FeedEvent], into: list[FeedEvent]) -> None:
    async for event in events:
        into.append(event)


async def test_a_subscription_whose_reader_lags_holds_a_bounded_inbox_and_loses_nothing(
    cluster_client: ClusterClient, keys: ClusterKeys
) -> None:
    """Its owner task stops reading while the inbox is full; Redis holds the rest meanwhile."""
    channel, sent = keys.story_channel(uuid.uuid4()), 300
    subscription = ShardedSubscription(cluster_client.pubsub(), 0.02, inbox=100)
    try:
        await asyncio.wait_for(subscription.subscribe([channel]), timeout(5))
        for index in range(sent):
            await cluster_client.spublish(channel, str(index))
        await wait_for_condition(_true_when(subscription.inbox.full), 5, "a full inbox")
        held = subscription.inbox.qsize()
        received = [await asyncio.wait_for(subscription.inbox.get(), timeout(5)) for _ in range(sent)]
    finally:
        await subscription.close()

    assert held == 100
    assert received == [(channel, str(index).encode()) for index in range(sent)]


def _true_when(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return check()

    return probe
