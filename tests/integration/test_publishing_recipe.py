"""docs/publishing.md's raw recipe, run as a worker in another language would: the documented Lua script
through `redis-cli` (SCRIPT LOAD + EVALSHA, and EVAL) against real Redis, and a WebSocket client of a
real `serve` receives the updates; a legacy SET + PUBLISH is delivered too, without `seq`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from adapters.redis_progress import RedisKeys
from codestory_progress_worker.scripts import PUBLISH_SCRIPT
from testkit.clients import ProgressClient
from testkit.processes import ROOT
from testkit.waiting import timeout
from tests.integration.conftest import NewStory, StartGateway

PUBLISHING_DOC = ROOT / "docs" / "publishing.md"


def documented_script() -> str:
    blocks = re.findall(r"```lua\n(.*?)```", PUBLISHING_DOC.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"expected one lua block in {PUBLISHING_DOC}, found {len(blocks)}"
    return str(blocks[0])


async def redis_cli(redis_url: str, *args: str) -> str:
    binary = shutil.which("redis-cli")
    if binary is None:
        pytest.fail("redis-cli is not installed: the publishing recipe test runs it")
    process = await asyncio.create_subprocess_exec(
        binary, "-u", redis_url, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout(10))
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


def update_json(story_id: str, status: str, percent: int, step: str) -> str:
    """What a worker in any language writes: compact JSON without `seq`, ending with its `}`."""
    body = {
        "story_id": story_id,
        "status": status,
        "progress_percent": percent,
        "current_step": step,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(body, separators=(",", ":"))


def test_the_documented_script_is_the_one_the_publisher_runs() -> None:
    assert documented_script().strip() == PUBLISH_SCRIPT.strip()


async def test_the_raw_recipe_through_redis_cli_reaches_a_client(
    start_gateway: StartGateway, new_story: NewStory, redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    gateway = start_gateway()
    story = await new_story()
    keys, sid = RedisKeys(key_prefix), str(story.id)
    snapshot, counter, channel = keys.snapshot(story.id), keys.counter(story.id), keys.story_channel(story.id)
    script = documented_script()

    async with connect(gateway.ws + story.path()) as connection:
        client = ProgressClient(connection)
        await connection.send("ping")
        assert await connection.recv() == "pong"  # subscribed

        sha = await redis_cli(redis_url, "SCRIPT", "LOAD", script)
        first = update_json(sid, "generating", 40, "Writing chapter 2")
        assert (
            await redis_cli(redis_url, "EVALSHA", sha, "2", snapshot, counter, first, channel, "600") == "1"
        )
        second = update_json(sid, "synthesizing", 80, "Recording")
        assert (
            await redis_cli(redis_url, "EVAL", script, "2", snapshot, counter, second, channel, "600") == "2"
        )
        await client.read_seq(2)

        legacy = update_json(sid, "complete", 100, "Done")
        await redis_cli(redis_url, "SET", snapshot, legacy)
        await redis_cli(redis_url, "PUBLISH", channel, legacy)
        await client.read_until(lambda m: m["status"] == "complete")

    got = [(m["status"], m["progress_percent"], m.get("seq")) for m in client.received]
    assert got == [("generating", 40, 1), ("synthesizing", 80, 2), ("complete", 100, None)]
    assert int(await redis_client.get(counter) or 0) == 2  # the counter survives the legacy SET
    assert 0 < await redis_client.ttl(counter) <= 600
