"""Bad messages on a `story:*` channel, published into real Redis, never reach clients or stop delivery."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from datetime import UTC, datetime

from redis.asyncio import Redis
from websockets.asyncio.client import connect

from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient
from testkit.waiting import timeout
from tests.integration.conftest import NewStory, StartGateway


def read_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=timeout(5)) as response:  # noqa: S310 (test URL)
        return str(response.read().decode())


def rejected_by_field(metrics_text: str) -> dict[str, float]:
    pattern = re.compile(r'^gateway_updates_rejected_total\{field="([^"]+)"\} (\S+)$', re.MULTILINE)
    return {field: float(value) for field, value in pattern.findall(metrics_text)}


async def test_invalid_broker_messages_are_dropped_counted_logged_and_delivery_goes_on(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_client: Redis,
    redis_keys: RedisKeys,
    redis_publisher: RedisProgressPublisher,
) -> None:
    gateway = start_gateway()
    story, other = await new_story(), await new_story()
    channel = redis_keys.channel(story.id)
    valid = {
        "story_id": str(story.id),
        "status": "generating",
        "progress_percent": 40,
        "current_step": "ok",
        "updated_at": "2026-11-25T20:43:58+00:00",
    }

    def variant(**changes: object) -> bytes:
        return json.dumps({**valid, **changes}).encode()

    bad = [
        b"{not json",
        b"[" * 5000,
        variant(progress_percent="forty"),
        variant(progress_percent=250),
        variant(status="dreaming"),
        variant(story_id=str(other.id)),
        variant(updated_at="yesterday"),
    ]
    async with connect(gateway.ws + story.path()) as connection:
        client = ProgressClient(connection)
        first = await redis_publisher.publish(
            ProgressUpdate(story.id, StoryStatus.ANALYZING, 5, "start", datetime.now(UTC))
        )
        await client.read_seq(first.seq or 0)
        for payload in bad:
            assert await redis_client.publish(channel, payload) == 1
        last = await redis_publisher.publish(
            ProgressUpdate(story.id, StoryStatus.COMPLETE, 100, "done", datetime.now(UTC))
        )
        await client.read_seq(last.seq or 0, seconds=timeout(5))

    assert [m["status"] for m in client.received] == ["analyzing", "complete"]
    counted = rejected_by_field(await asyncio.to_thread(read_text, gateway.http + "/metrics"))
    assert sum(counted.values()) == len(bad)
    assert counted["payload"] == 2  # not JSON, and nested too deep
    assert counted["status"] == 1
    assert counted["progress_percent"] == 2  # a string, and 250
    assert counted["story_id"] == 1  # another story's payload on this story's channel
    assert counted["updated_at"] == 1
    log = gateway.log()
    assert log.count("dropped message on") == len(bad)
    assert "listener failed" not in log
