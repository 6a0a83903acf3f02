"""`serve --workers 2` in cluster mode (`REDIS_MODE=cluster`) on the session's private Redis Cluster,
in Chromium: browsers and plain clients spread over both workers each get every update of their
story, each worker subscribing only its own clients' channels; a dashboard on one worker sees a
story created after it connected, whose socket sits on the other worker, through the owner's
channel; SIGTERM to the supervisor closes every socket with 1001 and exits 0.

Every client waits for its first snapshot before anything is published: the hub subscribes a
story's (or user's) channel before it reads the snapshot, so nothing published later is missed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from playwright.async_api import Page

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher, open_redis_cluster
from domain.progress import ProgressUpdate, StoryStatus
from testkit.browser import BrowserSockets
from testkit.browser_workers import BrowserOnWorkers, sigterm_closes_every_socket_with_1001
from testkit.clients import clients_on_workers
from testkit.postgres import Database
from testkit.processes import GatewayProcess, gateway_env, http_status
from testkit.redis_cluster import RedisCluster
from testkit.waiting import wait_until
from tests.e2e.conftest import Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")
logger = logging.getLogger(__name__)
READY_PROBES = 10  # consecutive 200s from /readyz: new connections land on either worker


def every_worker_ready(gateway: GatewayProcess) -> bool:
    return all(http_status(gateway.http + "/readyz") == 200 for _ in range(READY_PROBES))


@pytest_asyncio.fixture(loop_scope="session")
async def cluster_workers(
    redis_cluster: RedisCluster, database: Database, tokens: Tokens, e2e_prefix: str
) -> AsyncIterator[GatewayProcess]:
    env = gateway_env(redis_cluster.url, database.url, tokens.secret, e2e_prefix, REDIS_MODE="cluster")
    process = GatewayProcess(env, command=("serve", "--workers", "2"))
    await asyncio.to_thread(process.start, ready=True)
    await asyncio.to_thread(process.wait_workers, 2)
    await asyncio.to_thread(wait_until, lambda: every_worker_ready(process), 20, "both workers' /readyz")
    yield process
    if process.process is not None:
        await asyncio.to_thread(process.stop)


class ClusterPublisher:
    """A worker's side in cluster mode: the project's publisher, which needs the story's owner."""

    def __init__(self, inner: ClusterProgressPublisher) -> None:
        self.inner = inner

    async def publish(
        self, story_id: uuid.UUID, owner: uuid.UUID, status: str, percent: int, step: str
    ) -> ProgressUpdate:
        update = ProgressUpdate(story_id, StoryStatus(status), percent, step, datetime.now(UTC))
        return await self.inner.publish(update, owner)


@pytest_asyncio.fixture(loop_scope="session")
async def cluster_publisher(redis_cluster: RedisCluster, e2e_prefix: str) -> AsyncIterator[ClusterPublisher]:
    async with open_redis_cluster(redis_cluster.url) as client:
        keys = ClusterKeys(e2e_prefix)
        yield ClusterPublisher(ClusterProgressPublisher(client, JsonCodec(), keys, ttl_seconds=600))


async def test_two_cluster_workers_serve_every_client_and_sigterm_closes_all_with_1001(
    cluster_workers: GatewayProcess,
    page: Page,
    tokens: Tokens,
    database: Database,
    cluster_publisher: ClusterPublisher,
) -> None:
    gateway, publisher = cluster_workers, cluster_publisher
    workers = gateway.serving_workers()
    user = uuid.uuid4()
    token = tokens.valid(user)
    old_story = await new_story(database, user)
    await publisher.publish(old_story, user, "generating", 10, "Writing chapter 1")
    sockets = await BrowserSockets.on(page, gateway.http)
    browser = BrowserOnWorkers(sockets, gateway, workers)

    dash_worker = await browser.open("dash", f"/ws/user/stories?token={token}")
    await sockets.progress_where("dash", f"p.story_id === '{old_story}'")  # its user's channel is on
    (other_worker,) = set(workers) - {dash_worker}
    late_story = await new_story(database, user)  # created after the dashboard connected
    await publisher.publish(late_story, user, "analyzing", 5, "Cloning the repository")
    await sockets.progress_where("dash", f"p.story_id === '{late_story}' && p.seq === 1")
    late_socket = await browser.open_on(
        other_worker, "late", f"/ws/stories/{late_story}/progress?token={token}"
    )
    old_socket = await browser.open_on(dash_worker, "old", f"/ws/stories/{old_story}/progress?token={token}")
    for name in browser.served_by:
        if name != "dash":  # every story socket holds its snapshot: its story's channel is on
            await sockets.progress_where(name, "p.seq === 1")
    async with AsyncExitStack() as stack:
        plain = await clients_on_workers(
            stack, gateway, f"/ws/stories/{old_story}/progress?token={token}", workers
        )
        assert {c.worker for c in plain} == set(workers)

        await publisher.publish(late_story, user, "generating", 40, "Writing chapter 2")
        await publisher.publish(old_story, user, "generating", 60, "Writing chapter 3")
        await publisher.publish(old_story, user, "complete", 100, "Your story is ready")

        seen = await sockets.progress_where(late_socket, "p.seq === 2")
        assert [(p["seq"], p["progress_percent"]) for p in seen] == [(1, 5), (2, 40)]
        assert browser.served_by[late_socket] != dash_worker
        seen = await sockets.progress_where(old_socket, "p.seq === 3")
        assert [(p["seq"], p["progress_percent"]) for p in seen] == [(1, 10), (2, 60), (3, 100)]
        for client in plain:
            await client.progress.read_seq(3)
            assert [(m["seq"], m["progress_percent"]) for m in client.progress.received] == [
                (1, 10),
                (2, 60),
                (3, 100),
            ]
        seen = await sockets.progress_where("dash", f"p.story_id === '{late_story}' && p.seq === 2")
        assert [(p["seq"], p["progress_percent"]) for p in seen if p["story_id"] == str(late_story)] == [
            (1, 5),
            (2, 40),
        ]
        seen = await sockets.progress_where("dash", f"p.story_id === '{old_story}' && p.seq === 3")
        assert [(p["seq"], p["progress_percent"]) for p in seen if p["story_id"] == str(old_story)] == [
            (1, 10),
            (2, 60),
            (3, 100),
        ]

        stop_seconds = await sigterm_closes_every_socket_with_1001(gateway, browser, plain)
    logger.info(
        "cluster mode: %d browser sockets on workers %s, %d plain clients; SIGTERM to exit 0 in %.2f s",
        len(browser.served_by),
        sorted(set(browser.served_by.values())),
        len(plain),
        stop_seconds,
    )
    assert token not in gateway.log()
