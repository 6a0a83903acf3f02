"""Stalled and cancel against the real `serve` in cluster mode (a private Redis Cluster): the flag
over a real WebSocket, cleared by the liveness key in the story's slot (read in the one pipeline
per check); a socket's `cancel` writes the story's cancel key and SPUBLISHes the signal on its
shard, and the SSE POST answers the same."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from domain.progress import StoryStatus
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import ClusterClient, NewStory, StartClusterGateway, client_of, story_path
from tests.integration.stalls_and_cancels import STALLED_AFTER, check_record, flagged, next_text, post

S = StoryStatus


async def test_a_quiet_story_is_flagged_stalled_and_a_heartbeat_clears_it(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    cluster_client: ClusterClient,
    new_story: NewStory,
    key_prefix: str,
) -> None:
    keys = ClusterKeys(key_prefix)
    gateway = await asyncio.to_thread(
        start_cluster_gateway, redis_cluster, STALLED_AFTER_SECONDS=STALLED_AFTER
    )
    story = await new_story()
    latest = await cluster_publisher.publish(make_update(story.id, S.GENERATING, 40), story.user)
    assert latest.seq is not None
    async with AsyncExitStack() as stack:
        client = await client_of(stack, gateway, story_path(story.id, story.token))
        await client.read_until(flagged(latest.seq, stalled=True), seconds=5)

        await cluster_client.set(keys.alive(story.id), int(time.time() * 1000), px=15_000)
        cleared = await client.read_until(flagged(latest.seq, stalled=False), seconds=5)
        assert "stalled" not in cleared


async def test_cancel_writes_the_key_in_the_storys_slot_and_spublishes_the_signal(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    cluster_client: ClusterClient,
    new_story: NewStory,
    key_prefix: str,
) -> None:
    keys = ClusterKeys(key_prefix)
    gateway = await asyncio.to_thread(start_cluster_gateway, redis_cluster)
    story, ended = await new_story(), await new_story()
    await cluster_publisher.publish(make_update(story.id, S.GENERATING, 40), story.user)
    await cluster_publisher.publish(make_update(ended.id, S.FAILED, 50), ended.user)
    node = cluster_client.get_node_from_key(keys.cancel_channel(story.id))
    assert node is not None
    shard = Redis(host=node.host, port=node.port)
    pubsub = shard.pubsub()
    await pubsub.ssubscribe(keys.cancel_channel(story.id))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(shard.aclose)
        stack.push_async_callback(pubsub.aclose)
        client = await client_of(stack, gateway, story_path(story.id, story.token))
        await client.connection.send("cancel")
        assert await next_text(client, "cancel") == "cancel ok"

        check_record(await cluster_client.get(keys.cancel(story.id)), story.user)
        async with asyncio.timeout(timeout(5)):
            while (message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)) is None:
                pass
        assert message["data"] == str(story.id).encode()
        post_url = f"{gateway.http}/stories/{ended.id}/cancel"
        assert (await post(post_url, ended.token))[:2] == (409, "cancel refused terminal")
        assert (await post(f"{gateway.http}/stories/{story.id}/cancel", story.token))[:2] == (
            200,
            "cancel ok",
        )
