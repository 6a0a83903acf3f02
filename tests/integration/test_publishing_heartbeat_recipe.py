"""docs/publishing.md's raw heartbeat, run as a worker in another language would: the documented
`redis-cli EVAL` line, through bash, against real Redis. Its Lua is the SDK's `HEARTBEAT_SCRIPT`; it
sets the liveness key with its TTL and the time, and answers 1 once the cancel key exists."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
import uuid

import pytest
from redis.asyncio import Redis

from codestory_progress_worker import StandaloneKeys
from codestory_progress_worker.scripts import HEARTBEAT_SCRIPT
from testkit.processes import ROOT
from testkit.waiting import timeout

PUBLISHING_DOC = ROOT / "docs" / "publishing.md"


def documented_heartbeat() -> str:
    lines = re.findall(r"^redis-cli .* EVAL .*:alive.*$", PUBLISHING_DOC.read_text(), re.MULTILINE)
    assert len(lines) == 1, f"expected one heartbeat line in {PUBLISHING_DOC}, found {len(lines)}"
    return str(lines[0])


def test_the_documented_heartbeat_is_the_sdks_script() -> None:
    lua = re.search(r'EVAL "([^"]+)"', documented_heartbeat())
    assert lua is not None
    assert lua.group(1).split() == HEARTBEAT_SCRIPT.split()


async def run(line: str, redis_url: str, story: uuid.UUID) -> str:
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli is not installed: the publishing recipe test runs it")
    env = {**os.environ, "REDIS_URL": redis_url, "STORY": str(story)}
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", line, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout(10))
    assert process.returncode == 0, err.decode()
    return out.decode().strip()


async def test_the_documented_heartbeat_refreshes_and_tells_of_a_cancel(
    redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    story, keys = uuid.uuid4(), StandaloneKeys(key_prefix)
    line = documented_heartbeat().replace('"story:', f'"{key_prefix}story:')

    assert await run(line, redis_url, story) == "0"
    stored = int(await redis_client.get(keys.alive(story)) or 0)
    assert abs(stored - time.time() * 1000) < 5000
    assert 0 < await redis_client.pttl(keys.alive(story)) <= 15000

    await redis_client.set(keys.cancel(story), '{"user_id": "x", "requested_at": "y"}', ex=60)
    assert await run(line, redis_url, story) == "1"
