"""The real `serve` in cluster mode through a master's failover, on a private Redis Cluster: the
clients pause but keep their sockets, `/readyz` answers 200 again once the slot has its new
master, and a worker that keeps publishing reaches them again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from redis.exceptions import RedisClusterException, RedisError

from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.processes import GatewayProcess, http_status
from testkit.redis_cluster import RedisCluster
from testkit.redis_cluster_node import ClusterNode
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import (
    NewStory,
    StartClusterGateway,
    client_of,
    cluster_client_at,
    keep_publishing,
    publisher_on,
)

logger = logging.getLogger(__name__)


@pytest.fixture
def private_cluster() -> Iterator[RedisCluster]:
    """A cluster of this test's own, since it kills a master (the session's cluster stays whole)."""
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def readyz_becomes(gateway: GatewayProcess, status: int, seconds: float) -> float:
    async def answers() -> bool:
        return await asyncio.to_thread(http_status, gateway.http + "/readyz") == status

    return await wait_for_condition(answers, seconds, f"/readyz to answer {status}")


async def readyz_back_once_promoted(
    gateway: GatewayProcess, cluster: RedisCluster, channel: str, dying: ClusterNode
) -> tuple[bool, float]:
    """Wait for /readyz to answer 200 again; whether the channel's slot had a new master by then
    (asked right after the 200: a 200 while the slot had no master would find the dead node), and
    the loop time of that 200."""
    await readyz_becomes(gateway, 200, 20)
    ready_at = asyncio.get_running_loop().time()
    return await asyncio.to_thread(cluster.master_of, channel) is not dying, ready_at


def after_the_kill(message: dict[str, Any]) -> bool:
    """An update of the worker that keeps publishing through the outage (the one before had 1 %)."""
    return bool(message["progress_percent"] != 1)


PUBLISH_ERRORS = (RedisError, RedisClusterException, OSError)


async def publish_retrying(
    publisher: ClusterProgressPublisher, update: ProgressUpdate, owner: uuid.UUID
) -> ProgressUpdate:
    """A worker's publish that tries again until the cluster takes it (no fixed sleep: bounded tries)."""
    published: list[ProgressUpdate] = []

    async def attempt() -> bool:
        with contextlib.suppress(*PUBLISH_ERRORS):
            published.append(await publisher.publish(update, owner))
        return bool(published)

    await wait_for_condition(attempt, 20, "a publish to succeed")
    return published[0]


async def test_a_master_failover_pauses_clients_without_closing_them(
    private_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    new_story: NewStory,
    key_prefix: str,
    record_property: Callable[[str, object], None],
) -> None:
    cluster = private_cluster
    gateway = await asyncio.to_thread(start_cluster_gateway, cluster)
    story = await new_story()
    channel = ClusterKeys(key_prefix).story_channel(story.id)
    async with cluster_client_at(cluster.url) as worker_client, AsyncExitStack() as stack:
        publisher = publisher_on(worker_client, key_prefix)
        await publisher.publish(make_update(story.id, StoryStatus.GENERATING, 1), story.user)
        watchers = [await client_of(stack, gateway, story.path()) for _ in range(3)]
        for client in watchers:
            await client.read_seq(1)

        dying = cluster.master_of(channel)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await asyncio.to_thread(dying.kill)
        await readyz_becomes(gateway, 503, 10)  # the watched slot has no reachable master
        ready_again = asyncio.create_task(readyz_back_once_promoted(gateway, cluster, channel, dying))

        published: list[ProgressUpdate] = []
        stop = asyncio.Event()
        worker = asyncio.create_task(keep_publishing(publisher, story.id, story.user, published, stop))
        try:
            heard = [await watchers[0].read_until(after_the_kill, 30)]
            pause = loop.time() - killed_at
            heard += [await client.read_until(after_the_kill, 10) for client in watchers[1:]]
        finally:
            stop.set()
            await worker
        promoted, ready_at = await ready_again
        assert promoted, "/readyz answered 200 before a replica took over the watched slot"

        complete = await publish_retrying(
            publisher, make_update(story.id, StoryStatus.COMPLETE, 100, "Your story is ready"), story.user
        )
        for client, first_heard in zip(watchers, heard, strict=True):
            await client.read_until(lambda m: m["status"] == "complete", 10)
            seqs = client.seqs()
            later = seqs[client.received.index(first_heard) :]
            # every update from the first one heard after the promotion on, in order, to `complete`
            assert later == list(range(later[0], complete.seq + 1)), seqs
            assert seqs[0] == 1
            assert client.connection.close_code is None  # the socket survived the failover
        logger.warning(
            "published during and after the outage: %d, then complete as seq %s", len(published), complete.seq
        )

    record_property("failover_pause_seconds", round(pause, 2))
    record_property("failover_unready_seconds", round(ready_at - killed_at, 2))
    logger.warning(
        "gateway failover pause, kill to the first update after promotion: %.2f s (/readyz 200 again "
        "after %.2f s)",
        pause,
        ready_at - killed_at,
    )
    assert pause < timeout(20)
