"""The real `serve` in cluster mode (`REDIS_MODE=cluster`) on private Redis Clusters: each process
reads from the broker only its own clients' stories (counted by `gateway_broker_messages_total`),
a dashboard hears a story watched on another process through its owner's channel, and `publish
--user` reaches both kinds of client (a master's failover: test_cluster_failover.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from contextlib import AsyncExitStack

from adapters.redis_cluster import ClusterProgressPublisher
from testkit.clients import ProgressClient
from testkit.metrics import scrape
from testkit.postgres import Database
from testkit.processes import ROOT, GatewayProcess
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import (
    NewStory,
    OwnedStory,
    StartClusterGateway,
    client_of,
    dashboard_path,
    issue_token,
    of_story,
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
