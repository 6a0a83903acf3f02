"""The worker SDK on the private Redis Cluster, sync and asyncio: each update is stored on the story's
shard and published on its sharded channel and on the owner's; `revoke` is an SPUBLISH of the
story id on `{prefix}revocations`; without the owner nothing is sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisClusterException

from codestory_progress_worker import ClusterKeys, ProgressReporter
from codestory_progress_worker import aio as worker_aio
from testkit.processes import free_port
from testkit.redis_cluster import RedisCluster
from testkit.redis_cluster_node import HOST
from testkit.subscriber import Subscriber, subscribed


@contextlib.asynccontextmanager
async def sharded(cluster: RedisCluster, channel: str) -> AsyncIterator[Subscriber]:
    """SSUBSCRIBE on the master that serves the channel's slot."""
    async with (
        Redis(host=HOST, port=cluster.master_of(channel).port) as node,
        subscribed(node, channel, sharded=True) as subscriber,
    ):
        yield subscriber


def sync_walk(url: str, prefix: str, story: uuid.UUID, owner: uuid.UUID) -> int | None:
    with (
        ProgressReporter.from_url(url, prefix=prefix, cluster=True) as reporter,
        reporter.story(story, owner=owner) as held,
    ):
        held.update("generating", 40, "Writing chapter 2")
        return held.update("complete", 100, "Your story is ready").seq


async def async_walk(url: str, prefix: str, story: uuid.UUID, owner: uuid.UUID) -> int | None:
    async with (
        worker_aio.ProgressReporter.from_url(url, prefix=prefix, cluster=True) as reporter,
        reporter.story(story, owner=owner) as held,
    ):
        await held.update("generating", 40, "Writing chapter 2")
        return (await held.update("complete", 100, "Your story is ready")).seq


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_each_update_reaches_the_storys_and_the_owners_sharded_channels(
    redis_cluster: RedisCluster, key_prefix: str, api: str
) -> None:
    story, owner, keys = uuid.uuid4(), uuid.uuid4(), ClusterKeys(key_prefix)
    async with (
        sharded(redis_cluster, keys.story_channel(story)) as story_channel,
        sharded(redis_cluster, keys.user_channel(owner)) as user_channel,
    ):
        if api == "sync":
            last = await asyncio.to_thread(sync_walk, redis_cluster.url, key_prefix, story, owner)
        else:
            last = await async_walk(redis_cluster.url, key_prefix, story, owner)
        on_story = [await story_channel.next() for _ in range(2)]
        on_user = [await user_channel.next() for _ in range(2)]

    assert last == 2
    assert on_story == on_user
    assert [(m["status"], m["seq"]) for m in map(json.loads, on_story)] == [
        ("generating", 1),
        ("complete", 2),
    ]
    async with Redis(host=HOST, port=redis_cluster.master_of(keys.snapshot(story)).port) as node:
        assert await node.get(keys.snapshot(story)) == on_story[-1]
        assert int(await node.get(keys.counter(story)) or 0) == 2


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_revoke_is_a_sharded_publish_of_the_story_id(
    redis_cluster: RedisCluster, key_prefix: str, api: str
) -> None:
    story = uuid.uuid4()
    async with sharded(redis_cluster, f"{key_prefix}revocations") as revocations:
        if api == "sync":
            with ProgressReporter.from_url(redis_cluster.url, prefix=key_prefix, cluster=True) as reporter:
                heard = await asyncio.to_thread(reporter.revoke, story)
        else:
            async with worker_aio.ProgressReporter.from_url(
                redis_cluster.url, prefix=key_prefix, cluster=True
            ) as reporter:
                heard = await reporter.revoke(str(story))
        message = await revocations.next()

    assert (message, heard) == (str(story).encode(), 1)


def test_cluster_mode_sends_nothing_without_the_owner(redis_cluster: RedisCluster, key_prefix: str) -> None:
    with ProgressReporter.from_url(redis_cluster.url, prefix=key_prefix, cluster=True) as reporter:
        with pytest.raises(ValueError, match="owner"):
            reporter.story(uuid.uuid4())
        with pytest.raises(ValueError, match="owner"):
            reporter.publish(uuid.uuid4(), "failed", 0, "The worker died")


def test_a_reporter_built_while_the_cluster_is_down_connects_on_first_use(key_prefix: str) -> None:
    """redis-py's sync cluster client connects in its constructor; a worker's reporter, built at import,
    must not fail then: the first publish does, with redis-py's own error."""
    reporter = ProgressReporter.from_url(f"redis://127.0.0.1:{free_port()}", prefix=key_prefix, cluster=True)
    story = reporter.story(uuid.uuid4(), owner=uuid.uuid4())

    with pytest.raises(RedisClusterException, match="cannot be connected"):
        story.update("analyzing", 5, "Cloning the repository")
    reporter.close()
