"""The SDK's example worker (`python -m codestory_progress_worker.demo`) as a real process on real Redis:
it walks a story to `complete`, and a cancel written as the gateway writes it ends its story
`failed` "Cancelled by the user" within a step, the process saying `outcome: cancelled`."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis

from codestory_progress_worker import CANCELLED_STEP, StandaloneKeys
from testkit.waiting import timeout


async def start(redis_url: str, prefix: str, story: uuid.UUID, *options: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codestory_progress_worker.demo",
        str(story),
        "--owner",
        str(uuid.uuid4()),
        "--redis-url",
        redis_url,
        "--prefix",
        prefix,
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process) -> list[str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout(20))
    assert process.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_the_demo_worker_walks_a_story_to_complete(
    redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    story = uuid.uuid4()
    lines = await finished(await start(redis_url, key_prefix, story, "--steps", "3", "--step-seconds", "0"))

    assert lines == [
        "1 analyzing 0",
        "2 generating 33",
        "3 synthesizing 66",
        "4 complete 100",
        "outcome: complete",
    ]
    stored = json.loads(await redis_client.get(StandaloneKeys(key_prefix).snapshot(story)) or "{}")
    assert (stored["status"], stored["seq"]) == ("complete", 4)


async def test_the_demo_worker_honours_a_cancel(redis_url: str, redis_client: Redis, key_prefix: str) -> None:
    story, keys = uuid.uuid4(), StandaloneKeys(key_prefix)
    process = await start(redis_url, key_prefix, story, "--steps", "400", "--step-seconds", "0.05")
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout(10))
    assert first.decode().split()[:2] == ["1", "analyzing"]
    request = {"user_id": str(uuid.uuid4()), "requested_at": datetime.now(UTC).isoformat()}
    await redis_client.set(keys.cancel(story), json.dumps(request), ex=86400, nx=True)

    lines = await finished(process)

    assert lines[-1] == "outcome: cancelled"
    stored = json.loads(await redis_client.get(keys.snapshot(story)) or "{}")
    assert (stored["status"], stored["current_step"]) == ("failed", CANCELLED_STEP)
    assert stored["seq"] < 400  # it stopped early, not at the end of its walk
