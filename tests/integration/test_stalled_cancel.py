"""Stalled and cancel against the real `serve` on the shared standalone Redis: the flag over a real
WebSocket and over SSE, cleared by the liveness key; a socket's `cancel` and the SSE POST write the
cancel key and publish the signal, and refuse what they must with the agreed statuses."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.metrics import scrape
from testkit.sse import open_stream
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import NewStory, StartGateway, client_of, issue_token, story_path
from tests.integration.stalls_and_cancels import STALLED_AFTER, check_record, flagged, next_text, post

S = StoryStatus


async def test_a_quiet_story_is_flagged_stalled_and_a_heartbeat_clears_it(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway(STALLED_AFTER_SECONDS=STALLED_AFTER)
    story = await new_story()
    latest = await redis_publisher.publish(make_update(story.id, S.GENERATING, 40))
    assert latest.seq is not None
    async with AsyncExitStack() as stack:
        client = await client_of(stack, gateway, story_path(story.id, story.token))
        sse = await open_stream(
            f"{gateway.http}/sse/stories/{story.id}/progress", {"Authorization": f"Bearer {story.token}"}
        )
        stack.callback(sse.close)
        await client.read_until(flagged(latest.seq, stalled=False))
        await client.read_until(flagged(latest.seq, stalled=True), seconds=5)
        assert [(await sse.progress()).json().get("stalled") for _ in range(2)] == [None, True]

        await redis_client.set(redis_keys.alive(story.id), int(time.time() * 1000), px=15_000)
        cleared = await client.read_until(flagged(latest.seq, stalled=False), seconds=5)
        assert "stalled" not in cleared
        assert "stalled" not in (await sse.progress()).json()


async def test_cancel_on_a_socket_writes_the_key_and_publishes_the_signal(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 40))
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(redis_keys.cancel_channel(story.id))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(pubsub.aclose)
        client = await client_of(stack, gateway, story_path(story.id, story.token))
        await client.connection.send("cancel")
        assert await next_text(client, "cancel") == "cancel ok"

        check_record(await redis_client.get(redis_keys.cancel(story.id)), story.user)
        assert 0 < await redis_client.ttl(redis_keys.cancel(story.id)) <= 86_400
        async with asyncio.timeout(timeout(5)):
            while (message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)) is None:
                pass
        assert message["data"] == str(story.id).encode()
        metrics = await scrape(gateway.http)
        assert metrics.value("gateway_cancel_requests_total", outcome="ok") == 1
        assert (
            metrics.value("gateway_updates_rejected_total", field="payload") == 0
        )  # the signal is not progress


async def test_the_sse_post_answers_as_agreed(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway()
    story, other = await new_story(), await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 40))
    await redis_publisher.publish(make_update(other.id, S.COMPLETE, 100))
    url = f"{gateway.http}/stories/{story.id}/cancel"

    assert await post(url, story.token) == (200, "cancel ok", "text/plain; charset=utf-8")
    check_record(await redis_client.get(redis_keys.cancel(story.id)), story.user)
    assert (await post(f"{gateway.http}/stories/{other.id}/cancel", other.token))[:2] == (
        409,
        "cancel refused terminal",
    )
    assert (await post(url, other.token))[:2] == (403, "cancel refused forbidden")
    assert (await post(f"{gateway.http}/stories/nope/cancel", story.token))[:2] == (
        403,
        "cancel refused forbidden",
    )
    assert (await post(url))[0] == 401
    assert (await post(url, issue_token(story.user) + "x"))[0] == 401
    assert (await post(f"{url}?token={story.token}"))[:2] == (200, "cancel ok")
