"""The worker SDK on real Redis (standalone), sync and asyncio: each update is stored with its seq and
TTL and published on the story's channel; a bad value leaves Redis untouched; an error in the
block leaves the story `failed`; `revoke` publishes the story id on `{prefix}revocations`."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from redis.asyncio import Redis

from codestory_progress_worker import ProgressReporter, StandaloneKeys
from codestory_progress_worker import aio as worker_aio
from testkit.subscriber import subscribed

TTL = 600
BAD_VALUES = [
    (("generating", 101, "x"), "progress_percent"),
    (("done", 5, "x"), "status"),
    (("generating", True, "x"), "progress_percent"),
    (("failed", 5, "x" * 1001), "current_step"),
]


class ModelTimeout(RuntimeError):
    pass


def sync_walk(url: str, prefix: str, story: uuid.UUID) -> list[int | None]:
    """A sync worker (run in a thread): two updates, then an error escapes its block."""
    seqs: list[int | None] = []
    with ProgressReporter.from_url(url, prefix=prefix, ttl_seconds=TTL) as reporter:
        try:
            with reporter.story(story) as held:
                seqs.append(held.update("analyzing", 5, "Cloning the repository").seq)
                seqs.append(held.update("generating", 40, "Writing chapter 2").seq)
                raise ModelTimeout("api_key=sk-not-for-users")
        except ModelTimeout:
            pass
    return seqs


async def async_walk(url: str, prefix: str, story: uuid.UUID) -> list[int | None]:
    seqs: list[int | None] = []
    async with worker_aio.ProgressReporter.from_url(url, prefix=prefix, ttl_seconds=TTL) as reporter:
        try:
            async with reporter.story(story) as held:
                seqs.append((await held.update("analyzing", 5, "Cloning the repository")).seq)
                seqs.append((await held.update("generating", 40, "Writing chapter 2")).seq)
                raise ModelTimeout("api_key=sk-not-for-users")
        except ModelTimeout:
            pass
    return seqs


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_a_block_stores_and_publishes_each_update_then_fails_the_story(
    redis_url: str, redis_client: Redis, key_prefix: str, api: str
) -> None:
    story, keys = uuid.uuid4(), StandaloneKeys(key_prefix)
    async with subscribed(redis_client, keys.story_channel(story)) as channel:
        if api == "sync":
            seqs = await asyncio.to_thread(sync_walk, redis_url, key_prefix, story)
        else:
            seqs = await async_walk(redis_url, key_prefix, story)
        heard = [json.loads(await channel.next()) for _ in range(3)]

    assert seqs == [1, 2]
    assert [(m["status"], m["progress_percent"], m["current_step"], m["seq"]) for m in heard] == [
        ("analyzing", 5, "Cloning the repository", 1),
        ("generating", 40, "Writing chapter 2", 2),
        ("failed", 40, "Stopped by an error (ModelTimeout)", 3),
    ]
    stored = await redis_client.get(keys.snapshot(story))
    assert stored is not None
    assert json.loads(stored) == heard[-1]
    assert b"sk-not-for-users" not in stored
    assert int(await redis_client.get(keys.counter(story)) or 0) == 3
    assert 0 < await redis_client.ttl(keys.snapshot(story)) <= TTL


async def test_a_bad_value_reaches_nothing_in_redis(
    redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    story, keys = uuid.uuid4(), StandaloneKeys(key_prefix)
    async with (
        subscribed(redis_client, keys.story_channel(story)) as channel,
        worker_aio.ProgressReporter.from_url(redis_url, prefix=key_prefix) as reporter,
    ):
        for bad in [
            ("generating", 101, "x"),
            ("done", 5, "x"),
            ("generating", True, "x"),
            ("failed", 5, "x" * 1001),
        ]:
            with pytest.raises(ValueError):  # noqa: PT011 (each names its own field; the unit tests check them)
                await reporter.publish(story, *bad)
        assert await redis_client.exists(keys.snapshot(story), keys.counter(story)) == 0
        sent = await reporter.publish(story, "failed", 0, "The worker died")
        first = json.loads(await channel.next())

    assert (first["seq"], first["status"], sent.seq) == (1, "failed", 1)


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_revoke_publishes_the_story_id_on_the_revocations_channel(
    redis_url: str, redis_client: Redis, key_prefix: str, api: str
) -> None:
    story = uuid.uuid4()
    async with subscribed(redis_client, f"{key_prefix}revocations") as revocations:
        if api == "sync":
            with ProgressReporter.from_url(redis_url, prefix=key_prefix) as reporter:
                heard = await asyncio.to_thread(reporter.revoke, str(story))
        else:
            async with worker_aio.ProgressReporter.from_url(redis_url, prefix=key_prefix) as reporter:
                heard = await reporter.revoke(story)
        message = await revocations.next()

    assert message == str(story).encode()
    assert heard >= 1


async def test_a_held_seq_past_2_to_the_53_is_ignored_so_seq_stays_valid(
    redis_url: str, redis_client: Redis, key_prefix: str
) -> None:
    """A snapshot or counter planted with a seq the gateway would refuse (over 2^53) must not make
    every later update of the story invalid: the script counts from what is valid."""
    story, keys = uuid.uuid4(), StandaloneKeys(key_prefix)
    planted = {"story_id": str(story), "status": "analyzing", "progress_percent": 1,
               "current_step": "x", "updated_at": "2026-12-02T10:00:00+00:00", "seq": 10**30}  # fmt: skip
    await redis_client.set(keys.snapshot(story), json.dumps(planted))
    await redis_client.set(keys.counter(story), str(2**53))
    async with worker_aio.ProgressReporter.from_url(
        redis_url, prefix=key_prefix, ttl_seconds=TTL
    ) as reporter:
        sent = await reporter.publish(story, "generating", 40, "Writing chapter 2")
    assert sent.seq == 1
    stored = json.loads(await redis_client.get(keys.snapshot(story)))
    assert stored["seq"] == 1
