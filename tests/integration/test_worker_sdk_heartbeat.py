"""The worker SDK's heartbeat and cancel on real Redis, standalone and on the private Redis Cluster,
sync and asyncio: the liveness key holds the refresh time with a TTL of three intervals, is
refreshed while the block is open and left to expire after it; a cancel key written as the gateway
writes it is seen by a heartbeat and by a publish, and the story ends `failed` "Cancelled by the
user" with the next seq."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from codestory_progress_worker import CANCELLED_STEP, ClusterKeys, ProgressReporter, StandaloneKeys
from codestory_progress_worker import aio as worker_aio
from testkit.redis_cluster import RedisCluster
from testkit.waiting import wait_for_condition

INTERVAL = 0.2  # seconds between refreshes: the key's TTL is 600 ms
MODES = ["standalone", "cluster"]


@dataclass
class Target:
    """Where a test's worker reports: the URL and mode, the key names, a client to look with."""

    url: str
    cluster: bool
    keys: StandaloneKeys | ClusterKeys
    client: Any  # redis.asyncio Redis or RedisCluster: the same commands

    def sync_reporter(self, prefix: str, heartbeat: float | None) -> ProgressReporter:
        return ProgressReporter.from_url(
            self.url, prefix=prefix, cluster=self.cluster, heartbeat_seconds=heartbeat
        )

    def async_reporter(self, prefix: str, heartbeat: float | None) -> worker_aio.ProgressReporter:
        return worker_aio.ProgressReporter.from_url(
            self.url, prefix=prefix, cluster=self.cluster, heartbeat_seconds=heartbeat
        )

    async def cancel(self, story: uuid.UUID) -> None:
        """As the gateway records a cancel: the key (JSON, one day), then the signal."""
        request = {"user_id": str(uuid.uuid4()), "requested_at": datetime.now(UTC).isoformat()}
        await self.client.set(self.keys.cancel(story), json.dumps(request), ex=86400, nx=True)
        publish = self.client.spublish if self.cluster else self.client.publish
        await publish(self.keys.cancel_channel(story), str(story))

    async def snapshot(self, story: uuid.UUID) -> dict[str, Any]:
        raw = await self.client.get(self.keys.snapshot(story))
        assert raw is not None
        return dict(json.loads(raw))


@pytest.fixture(params=MODES)
def target(request: pytest.FixtureRequest, key_prefix: str) -> Target:
    if request.param == "cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        return Target(cluster.url, True, ClusterKeys(key_prefix), request.getfixturevalue("cluster_client"))
    url: str = request.getfixturevalue("redis_url")
    return Target(url, False, StandaloneKeys(key_prefix), request.getfixturevalue("redis_client"))


async def refreshed_twice(target: Target, story: uuid.UUID) -> None:
    """The liveness key exists with its TTL and the refresh time, then a later refresh replaces it."""
    alive = target.keys.alive(story)

    async def present() -> bool:
        return bool(await target.client.exists(alive))

    await wait_for_condition(present, 5, "the first refresh")
    first = int(await target.client.get(alive))
    assert abs(first - time.time() * 1000) < 5000
    assert 0 < await target.client.pttl(alive) <= 600

    async def later() -> bool:
        return int(await target.client.get(alive) or 0) > first

    await wait_for_condition(later, 5, "a second refresh")


async def expired(target: Target, story: uuid.UUID) -> None:
    """Left alone after the block, the key expires: nothing refreshes it any more."""

    async def gone() -> bool:
        return not await target.client.exists(target.keys.alive(story))

    await wait_for_condition(gone, 5, "the liveness key to expire after the block")


async def test_sync_heartbeats_keep_the_key_fresh_and_stop_with_the_block(
    target: Target, key_prefix: str
) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    with target.sync_reporter(key_prefix, INTERVAL) as reporter:
        with reporter.story(story, owner=owner) as held:
            await refreshed_twice(target, story)
            held.update("complete", 100, "Your story is ready")
        assert held.heartbeat is not None
        assert not held.heartbeat.running
        await expired(target, story)


async def test_asyncio_heartbeats_keep_the_key_fresh_and_stop_with_the_block(
    target: Target, key_prefix: str
) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    async with target.async_reporter(key_prefix, INTERVAL) as reporter:
        async with reporter.story(story, owner=owner) as held:
            await refreshed_twice(target, story)
            await held.update("complete", 100, "Your story is ready")
        assert held.heartbeat is not None
        assert not held.heartbeat.running
        await expired(target, story)


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_a_cancel_seen_by_a_heartbeat_ends_the_story_failed(
    target: Target, key_prefix: str, api: str
) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    if api == "sync":
        with (
            target.sync_reporter(key_prefix, INTERVAL) as reporter,
            reporter.story(story, owner=owner) as held,
        ):
            held.update("generating", 40, "Writing chapter 1")
            await target.cancel(story)
            await wait_for_condition(
                lambda: _now(held.cancel_requested), 5, "the heartbeat to see the cancel"
            )
            held.update("generating", 55, "Writing chapter 2")
    else:
        async with (
            target.async_reporter(key_prefix, INTERVAL) as areporter,
            areporter.story(story, owner=owner) as aheld,
        ):
            await aheld.update("generating", 40, "Writing chapter 1")
            await target.cancel(story)
            await wait_for_condition(
                lambda: _now(aheld.cancel_requested), 5, "the heartbeat to see the cancel"
            )
            await aheld.update("generating", 55, "Writing chapter 2")

    final = await target.snapshot(story)
    assert (final["status"], final["progress_percent"], final["current_step"], final["seq"]) == (
        "failed",
        40,
        CANCELLED_STEP,
        2,
    )


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_a_cancel_seen_by_a_publish_ends_the_story_failed(
    target: Target, key_prefix: str, api: str
) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    await target.cancel(story)
    seen: list[bool] = []
    if api == "sync":
        with target.sync_reporter(key_prefix, None) as reporter, reporter.story(story, owner=owner) as held:
            held.update("analyzing", 5, "Cloning the repository")
            seen.append(held.cancel_requested)
            held.update("generating", 40, "Writing chapter 1")
    else:
        async with (
            target.async_reporter(key_prefix, None) as areporter,
            areporter.story(story, owner=owner) as aheld,
        ):
            await aheld.update("analyzing", 5, "Cloning the repository")
            seen.append(aheld.cancel_requested)
            await aheld.update("generating", 40, "Writing chapter 1")

    final = await target.snapshot(story)
    assert seen == [True]
    assert (final["status"], final["progress_percent"], final["current_step"], final["seq"]) == (
        "failed",
        5,
        CANCELLED_STEP,
        2,
    )
    assert not await target.client.exists(target.keys.alive(story))  # heartbeats were off


async def _now(value: bool) -> bool:
    return value
