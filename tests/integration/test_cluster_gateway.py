"""The real `serve` in cluster mode (`REDIS_MODE=cluster`) on private Redis Clusters: each process
reads from the broker only its own clients' stories (counted by `gateway_broker_messages_total`),
a dashboard hears a story watched on another process through its owner's channel, a master's
failover costs the clients a pause but not their sockets, and `publish --user` reaches both kinds
of client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from redis.exceptions import RedisClusterException, RedisError

from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient
from testkit.metrics import scrape
from testkit.postgres import Database
from testkit.processes import ROOT, GatewayProcess, http_status
from testkit.redis_cluster import RedisCluster
from testkit.redis_cluster_node import ClusterNode
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import (
    NewStory,
    OwnedStory,
    StartClusterGateway,
    client_of,
    cluster_client_at,
    dashboard_path,
    issue_token,
    keep_publishing,
    of_story,
    publisher_on,
    story_path,
)

logger = logging.getLogger(__name__)

STORIES_PER_PROCESS = 5
CLIENTS_PER_STORY = 2
UPDATES_PER_STORY = 5
BROKER_MESSAGES = "gateway_broker_messages_total"


async def broker_messages(gateway: GatewayProcess) -> float:
    return (await scrape(gateway.http)).value(BROKER_MESSAGES)


async def test_each_process_reads_only_its_own_stories_and_dashboards_hear_the_owners_channel(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    new_story: NewStory,
    database: Database,
) -> None:
    gateway_a, gateway_b = await asyncio.gather(
        asyncio.to_thread(start_cluster_gateway, redis_cluster),
        asyncio.to_thread(start_cluster_gateway, redis_cluster),
    )
    stories = [
        (gateway, [await new_story() for _ in range(STORIES_PER_PROCESS)])
        for gateway in (gateway_a, gateway_b)
    ]
    every_story = [story for _, owned in stories for story in owned]
    for story in every_story:  # a snapshot, so that a client's first message says it is subscribed
        await cluster_publisher.publish(make_update(story.id, percent=1), story.user)

    async with AsyncExitStack() as stack:
        clients: dict[OwnedStory, list[ProgressClient]] = {}
        for gateway, owned in stories:
            for story in owned:
                clients[story] = [
                    await client_of(stack, gateway, story.path()) for _ in range(CLIENTS_PER_STORY)
                ]
        for watching in clients.values():
            for client in watching:
                await client.read_seq(1)
        assert [await broker_messages(g) for g in (gateway_a, gateway_b)] == [0, 0]

        for percent in range(2, 2 + UPDATES_PER_STORY):
            for story in every_story:
                await cluster_publisher.publish(make_update(story.id, percent=percent), story.user)
        last = 1 + UPDATES_PER_STORY
        for watching in clients.values():
            for client in watching:
                await client.read_seq(last)
                assert [(m["seq"], m["progress_percent"]) for m in client.received] == [
                    (seq, seq) for seq in range(1, last + 1)
                ]
        own = STORIES_PER_PROCESS * UPDATES_PER_STORY
        counts = [await broker_messages(g) for g in (gateway_a, gateway_b)]
        logger.warning("broker messages read, process A and B: %s (own stories' updates: %d)", counts, own)
        assert counts == [own, own]

        # A dashboard on A, then a story of its user created after it connected, watched on B.
        user = uuid.uuid4()
        token = issue_token(user)
        known = await story_of(database, user)
        await cluster_publisher.publish(make_update(known, percent=10), user)
        dashboard = await client_of(stack, gateway_a, dashboard_path(token))
        await dashboard.read_until(of_story(known, 1))  # subscribed to the user's channel
        late = await story_of(database, user)
        await cluster_publisher.publish(make_update(late, percent=5), user)
        await dashboard.read_until(of_story(late, 1))
        watcher = await client_of(stack, gateway_b, story_path(late, token))
        await watcher.read_seq(1)
        for percent in (20, 30):
            await cluster_publisher.publish(make_update(late, percent=percent), user)
        await watcher.read_seq(3)
        await dashboard.read_until(of_story(late, 3))
        assert [(m["seq"], m["progress_percent"]) for m in watcher.received] == [(1, 5), (2, 20), (3, 30)]
        assert [
            (m["seq"], m["progress_percent"]) for m in dashboard.received if m["story_id"] == str(late)
        ] == [(1, 5), (2, 20), (3, 30)]
        # A heard the user's channel (3 updates of `late`), B the story's channel after its client came.
        assert [await broker_messages(g) for g in (gateway_a, gateway_b)] == [own + 3, own + 2]


async def story_of(database: Database, user: uuid.UUID) -> uuid.UUID:
    story = uuid.uuid4()
    await database.insert_story(story, user)
    return story


async def run_publish(prefix: str, cluster: RedisCluster, *args: str) -> tuple[int, str, str]:
    """`codestory-progress publish` in cluster mode, as a worker's shell would run it."""
    env = {**os.environ, "REDIS_URL": cluster.url, "REDIS_MODE": "cluster", "REDIS_KEY_PREFIX": prefix}
    command = [sys.executable, "-m", "entrypoints", "publish", *args]
    worker = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout(20))
    assert worker.returncode is not None
    return worker.returncode, out.decode(), err.decode()


async def test_publish_command_with_user_reaches_a_story_client_and_a_dashboard(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    new_story: NewStory,
    key_prefix: str,
) -> None:
    gateway = await asyncio.to_thread(start_cluster_gateway, redis_cluster)
    story = await new_story()
    await cluster_publisher.publish(make_update(story.id, percent=10), story.user)
    async with AsyncExitStack() as stack:
        watcher = await client_of(stack, gateway, story.path())
        dashboard = await client_of(stack, gateway, dashboard_path(story.token))
        await watcher.read_seq(1)
        await dashboard.read_until(of_story(story.id, 1))

        code, out, err = await run_publish(
            key_prefix,
            redis_cluster,
            str(story.id),
            "synthesizing",
            "70",
            "Mixing",
            "--user",
            str(story.user),
        )
        assert code == 0, err
        assert str(story.id) in out
        for client in (watcher, dashboard):
            message = await client.read_until(of_story(story.id, 2))
            assert (
                message["seq"],
                message["status"],
                message["progress_percent"],
                message["current_step"],
            ) == (
                2,
                "synthesizing",
                70,
                "Mixing",
            )

        code, out, err = await run_publish(
            key_prefix, redis_cluster, str(story.id), "complete", "100", "Done"
        )
        assert code == 2
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err
        assert "--user" in err
        assert (await cluster_publisher.publish(make_update(story.id, percent=80), story.user)).seq == 3


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
