"""`codestory-progress revoke STORY_ID`, as an operator's or the backend's shell runs it: the story id
reaches every gateway's revocation channel, PUBLISH in standalone mode, SPUBLISH in cluster mode;
`publish` and `revoke` against a cluster that does not answer: one line, exit 1."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from redis.asyncio import Redis

from testkit.processes import ROOT, free_port
from testkit.redis_cluster import RedisCluster
from testkit.redis_cluster_node import HOST
from testkit.subscriber import subscribed
from testkit.waiting import timeout


async def run_command(*args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "entrypoints", *args],
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
        env = {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix}
        code, out, err = await run_command("revoke", str(story), **env)
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
        code, _, err = await run_command(
            "revoke",
            str(story),
            REDIS_URL=redis_cluster.url,
            REDIS_KEY_PREFIX=key_prefix,
            REDIS_MODE="cluster",
        )
        heard = await revocations.next()

    assert (code, heard) == (0, str(story).encode()), err


async def test_a_cluster_that_does_not_answer_is_one_line_and_exit_1() -> None:
    story, user = str(uuid.uuid4()), str(uuid.uuid4())
    dead = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}", "REDIS_MODE": "cluster"}
    for args in [("publish", story, "generating", "5", "x", "--user", user), ("revoke", story)]:
        code, out, err = await run_command(*args, **dead)

        assert (code, out) == (1, ""), err
        assert err.strip().splitlines() == [err.strip()]
        assert "RedisClusterException" in err
