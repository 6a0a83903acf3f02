"""`codestory-progress revoke STORY_ID`, as an operator's or the backend's shell runs it: the story id
reaches every gateway's revocation channel, PUBLISH in standalone mode, SPUBLISH in cluster mode."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from redis.asyncio import Redis

from testkit.processes import ROOT
from testkit.redis_cluster import RedisCluster
from testkit.redis_cluster_node import HOST
from testkit.subscriber import subscribed
from testkit.waiting import timeout


async def revoke(story: str, **env: str) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "entrypoints", "revoke", story]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout(20))
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_revoke_reaches_the_revocation_channel(
    redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    story = uuid.uuid4()
    async with subscribed(redis_client, f"{key_prefix}revocations") as revocations:
        code, out, err = await revoke(str(story), REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix)
        heard = await revocations.next()

    assert (code, heard) == (0, str(story).encode()), err
    assert out.startswith(f"revoked {story}: ")


async def test_revoke_in_cluster_mode_is_a_sharded_publish(
    redis_cluster: RedisCluster, key_prefix: str
) -> None:
    story, channel = uuid.uuid4(), f"{key_prefix}revocations"
    async with (
        Redis(host=HOST, port=redis_cluster.master_of(channel).port) as node,
        subscribed(node, channel, sharded=True) as revocations,
    ):
        code, _, err = await revoke(
            str(story), REDIS_URL=redis_cluster.url, REDIS_KEY_PREFIX=key_prefix, REDIS_MODE="cluster"
        )
        heard = await revocations.next()

    assert (code, heard) == (0, str(story).encode()), err
