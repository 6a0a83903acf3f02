"""Bad messages on a `story:*` channel, published into real Redis, never reach clients or stop delivery;
a flood of them costs a handful of log lines, and none of them can forge a line."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient, http_json
from testkit.processes import GatewayProcess
from testkit.waiting import timeout, wait_for_condition
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
    channel = redis_keys.story_channel(story.id)
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
        variant(seq=10**30),  # would freeze the story for every watcher if it were taken
        variant(seq=2**53 + 1),
        variant(current_step="x" * 70_000),
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
    assert counted["seq"] == 2
    assert counted["too_big"] == 1
    assert gateway.stop() == 0
    log = gateway.log()
    assert log.count("dropped message on") == 2  # the first, and the last in the line that counts them
    assert f"{len(bad) - 1} more like this suppressed within 10 s" in log
    assert "listener failed" not in log


async def _subscribed(gateway: GatewayProcess) -> None:
    async def ready() -> bool:
        return (await http_json(gateway.http + "/readyz"))[0] == 200

    await wait_for_condition(ready, 10, "the gateway's broker subscription")


async def _rejected(gateway: GatewayProcess, count: int) -> None:
    async def all_counted() -> bool:
        text = await asyncio.to_thread(read_text, gateway.http + "/metrics")
        return sum(rejected_by_field(text).values()) >= count

    await wait_for_condition(all_counted, 20, f"{count} rejected messages counted")


FORGED = "\n2026-12-01 10:00:00,000 CRITICAL domain.gateway: forged line\x1b[31m\u2028\x85"


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_channel_name_cannot_forge_a_log_line(
    start_gateway: StartGateway, redis_client: Redis, redis_keys: RedisKeys, log_format: str
) -> None:
    gateway = start_gateway(LOG_FORMAT=log_format)
    await _subscribed(gateway)
    channel = redis_keys.story_channel(uuid.uuid4()) + FORGED

    assert await redis_client.publish(channel, b"{}") == 1
    await _rejected(gateway, 1)
    assert gateway.stop() == 0

    lines = gateway.log().splitlines()
    assert not [line for line in lines if line.startswith("2026-12-01 10:00:00,000 CRITICAL")]
    dropped = [line for line in lines if "dropped message on" in line]
    assert len(dropped) == 1
    if log_format == "json":
        assert json.loads(dropped[0])["message"] == f"dropped message on {channel}: story_id: missing"
        assert all(json.loads(line) for line in lines)
    else:
        assert dropped[0].endswith(
            "\\n2026-12-01 10:00:00,000 CRITICAL domain.gateway: forged line\\x1b[31m\\u2028\\x85: "
            "story_id: missing"
        )
        assert all(re.match(r"\d{4}-\d\d-\d\d |  \| ", line) for line in lines)


async def test_5000_bad_messages_write_two_lines_and_are_all_counted(
    start_gateway: StartGateway, redis_client: Redis, redis_keys: RedisKeys
) -> None:
    gateway = start_gateway()
    await _subscribed(gateway)
    written = len(gateway.log().splitlines())

    async with redis_client.pipeline(transaction=False) as pipe:
        for _ in range(5000):
            pipe.publish(redis_keys.story_channel(uuid.uuid4()), b"{not json")
        await pipe.execute()
    await _rejected(gateway, 5000)
    assert gateway.stop() == 0

    lines = gateway.log().splitlines()[written:]
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 2, warnings
    assert "dropped message on " in warnings[0]
    assert warnings[0].endswith(": payload: not JSON (or not UTF-8, or nested too deep)")
    assert "4999 more like this suppressed within 10 s; the last: dropped message on" in warnings[1]
