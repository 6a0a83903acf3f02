"""The cluster feed through topology changes: a master's failover and a slot that moves, both
healed by subscribing anew, which redis-py 8.1's own `ClusterPubSub` does not do by itself."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from uuid import UUID

import pytest
from redis.asyncio.cluster import ClusterPubSub
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.exceptions import RedisClusterException, RedisError

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from adapters.redis_cluster_feed import ClusterProgressFeed
from domain.errors import FeedUnavailable
from domain.progress import ProgressUpdate, StoryStatus
from domain.values import FeedEvent, Subscribed, Topic
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update, next_event, subscribed
from tests.integration.conftest import TTL_SECONDS, cluster_client_at, keep_publishing, stories

logger = logging.getLogger(__name__)


@pytest.fixture
def keys(key_prefix: str) -> ClusterKeys:
    return ClusterKeys(key_prefix)


async def test_a_slot_that_moves_is_followed_by_subscribing_anew(
    redis_cluster: RedisCluster, keys: ClusterKeys
) -> None:
    """Redis drops the sharded subscriptions of a slot that moves to another master: the feed ends
    with FeedUnavailable and a new `events()` hears the story on its new master. A bare redis-py
    8.1 subscriber, whose client runs no command that would meet a MOVED, hears nothing more."""
    async with (
        cluster_client_at(redis_cluster.url) as gateway,
        cluster_client_at(redis_cluster.url) as worker,
        cluster_client_at(redis_cluster.url) as bare_client,
    ):
        feed = ClusterProgressFeed(gateway, JsonCodec(), keys)
        publisher = ClusterProgressPublisher(worker, JsonCodec(), keys, ttl_seconds=TTL_SECONDS)
        story, owner = uuid.uuid4(), uuid.uuid4()
        channel = keys.story_channel(story)
        await feed.watch([Topic("story", story)])
        bare = await bare_subscriber(bare_client, channel)
        async with subscribed(feed) as events:
            before = await publisher.publish(make_update(story, percent=1), owner)
            assert await next_event(events) == before
            source = redis_cluster.master_of(channel)
            target = next(n for n in redis_cluster.live() if n.is_master() and n is not source)
            await asyncio.to_thread(redis_cluster.move_slot, channel, target)
            with pytest.raises(FeedUnavailable):
                await next_event(events, seconds=5)

        events = await resubscribed(feed)
        try:
            after = await publisher.publish(make_update(story, percent=2), owner)
            assert await next_event(events) == after
            assert after.seq == (before.seq or 0) + 1  # the counter moved with the slot
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        assert await bare_heard(bare, after) is False, "redis-py followed the slot by itself"
        await bare.aclose()


async def test_a_master_failover_costs_a_pause_then_updates_flow_again(
    redis_cluster: RedisCluster, keys: ClusterKeys, record_property: Callable[[str, object], None]
) -> None:
    """Kill the master of a watched story's slot while a worker keeps publishing: the feed fails,
    a new `events()` resubscribes on the promoted replica and hears the later updates, and a
    topic watched during the outage is heard too. A bare redis-py 8.1 subscriber never moves."""
    async with (
        cluster_client_at(redis_cluster.url) as gateway,
        cluster_client_at(redis_cluster.url) as worker,
        cluster_client_at(redis_cluster.url) as bare_client,
    ):
        feed = ClusterProgressFeed(gateway, JsonCodec(), keys)
        publisher = ClusterProgressPublisher(worker, JsonCodec(), keys, ttl_seconds=TTL_SECONDS)
        story, owner = uuid.uuid4(), uuid.uuid4()
        dying = redis_cluster.master_of(keys.story_channel(story))
        try:
            [late] = stories(1, lambda s: redis_cluster.master_of(keys.story_channel(s)) is dying)
            await feed.watch([Topic("story", story)])
            bare = await bare_subscriber(bare_client, keys.story_channel(story))
            async with subscribed(feed) as events:
                before = await publisher.publish(make_update(story, percent=1), owner)
                assert await next_event(events) == before

                killed_at = asyncio.get_running_loop().time()
                await asyncio.to_thread(dying.kill)
                with pytest.raises(FeedUnavailable):
                    await next_event(events, seconds=5)
            await assert_unavailable_while_the_slot_has_no_master(feed, late)

            events, first, published = await heard_again(feed, publisher, story, owner)
            pause = asyncio.get_running_loop().time() - killed_at
            try:
                # The first update heard is one the worker published after the kill. Its seq may be
                # `before`'s again: replication is asynchronous, so the promoted replica can lack the
                # last writes, and the hub's resync after `Subscribed` already expects seqs to restart.
                assert first in published
                await feed.ping()
                rest = published[published.index(first) + 1 :]
                assert [await next_event(events) for _ in rest] == rest
                late_update = await publisher.publish(make_update(late), owner)
                complete = await publisher.publish(make_update(story, StoryStatus.COMPLETE, 100), owner)
                assert {await next_event(events), await next_event(events)} == {late_update, complete}
            finally:
                await events.aclose()  # type: ignore[attr-defined]

            assert await bare_heard(bare, complete) is False, "redis-py moved a bare subscriber by itself"
            await bare.aclose()
        finally:
            if dying.process is None:  # killed: bring it back as a replica for the other tests
                await asyncio.to_thread(redis_cluster.revive, dying)

    record_property("failover_pause_seconds", round(pause, 2))
    logger.warning("failover pause, kill to first update again: %.2f s", pause)
    assert pause < timeout(20)


async def assert_unavailable_while_the_slot_has_no_master(feed: ClusterProgressFeed, late: UUID) -> None:
    with pytest.raises(FeedUnavailable):
        await feed.ping()  # what /readyz asks: a watched slot has no reachable master
    with pytest.raises(FeedUnavailable):
        await feed.watch([Topic("story", late)])  # refused, yet remembered for the next events()


async def heard_again(
    feed: ClusterProgressFeed, publisher: ClusterProgressPublisher, story: UUID, owner: UUID
) -> tuple[AsyncIterator[FeedEvent], FeedEvent, list[ProgressUpdate]]:
    """Resubscribe while a worker keeps publishing; the events, the first one heard, and what the
    worker managed to publish."""
    published: list[ProgressUpdate] = []
    stop = asyncio.Event()
    worker = asyncio.create_task(keep_publishing(publisher, story, owner, published, stop))
    try:
        events = await resubscribed(feed)
        return events, await next_event(events, seconds=10), published
    finally:
        stop.set()  # not cancel(): on 3.11 a cancel that meets redis-py's own timeout can be lost
        await worker


async def resubscribed(feed: ClusterProgressFeed) -> AsyncIterator[FeedEvent]:
    """What the hub's listener does: call `events()` again until it says `Subscribed`."""
    holder: list[AsyncIterator[FeedEvent]] = []

    async def attempt() -> bool:
        events = feed.events()
        try:
            assert await next_event(events, seconds=5) == Subscribed()
        except FeedUnavailable:
            await events.aclose()  # type: ignore[attr-defined]
            return False
        holder.append(events)
        return True

    await wait_for_condition(attempt, 20, "the feed to resubscribe after the promotion")
    return holder[0]


async def bare_subscriber(client: ClusterClient, channel: str) -> ClusterPubSub:
    """redis-py's own cluster pubsub on one channel, confirmed, on a client that runs no commands."""
    await client.initialize()
    bare = client.pubsub()
    await bare.ssubscribe(channel)

    async def confirmed() -> bool:
        message = await bare.get_sharded_message(timeout=0.05)
        return message is not None and message["type"] == "ssubscribe"

    await wait_for_condition(confirmed, 3, "the bare subscriber's confirmation")
    return bare


async def bare_heard(bare: ClusterPubSub, update: ProgressUpdate, reads: int = 40) -> bool:
    """Whether `reads` reads of the bare subscriber bring `update` (errors count as reads)."""
    codec = JsonCodec()
    for _ in range(reads):
        try:
            message = await bare.get_sharded_message(timeout=0.05)
        except (RedisError, RedisClusterException, OSError, RuntimeError):
            continue
        if message is not None and message["type"] == "smessage" and codec.decode(message["data"]) == update:
            return True
    return False
