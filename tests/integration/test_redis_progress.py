"""What only real Redis can show: the snapshot's TTL, the Lua publish's atomicity under concurrency,
and updates of a legacy publisher (plain SET + PUBLISH, no seq) delivered in arrival order."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from tests.contracts.progress import make_update, next_event, subscribed, wire
from tests.integration.conftest import TTL_SECONDS

PUBLISHERS = 10
EACH = 20


async def test_the_snapshot_key_expires_after_the_configured_ttl(
    redis_client: Redis, redis_keys: RedisKeys, redis_publisher: RedisProgressPublisher
) -> None:
    story = uuid.uuid4()
    await redis_publisher.publish(make_update(story))

    ttl = await redis_client.ttl(redis_keys.snapshot(story))

    assert TTL_SECONDS - 5 <= ttl <= TTL_SECONDS


async def test_every_publish_renews_the_ttl(redis_client: Redis, redis_keys: RedisKeys) -> None:
    story = uuid.uuid4()
    short = RedisProgressPublisher(redis_client, JsonCodec(), redis_keys, ttl_seconds=30)
    long = RedisProgressPublisher(redis_client, JsonCodec(), redis_keys, ttl_seconds=TTL_SECONDS)
    await short.publish(make_update(story))

    await long.publish(make_update(story, percent=20))

    assert await redis_client.ttl(redis_keys.snapshot(story)) > 30


async def test_concurrent_publishes_get_every_seq_exactly_once(
    redis_client: Redis, redis_keys: RedisKeys, redis_publisher: RedisProgressPublisher
) -> None:
    story = uuid.uuid4()
    feed = RedisProgressFeed(redis_client, JsonCodec(), redis_keys)

    async def worker(number: int) -> list[int]:
        seqs = []
        for i in range(EACH):
            update = make_update(story, StoryStatus.GENERATING, i, step=f"worker {number} step {i}")
            seqs.append((await redis_publisher.publish(update)).seq or 0)
        return seqs

    async with subscribed(feed) as events:
        results = await asyncio.gather(*(worker(n) for n in range(PUBLISHERS)))
        heard = [await next_event(events) for _ in range(PUBLISHERS * EACH)]

    seqs = [seq for result in results for seq in result]
    assert sorted(seqs) == list(range(1, PUBLISHERS * EACH + 1))
    assert all(result == sorted(result) for result in results)
    snapshot = next(iter(await feed.snapshots([story])), None)
    assert snapshot is not None
    assert snapshot.seq == PUBLISHERS * EACH
    assert [u.seq for u in heard if isinstance(u, ProgressUpdate)] == list(range(1, PUBLISHERS * EACH + 1))


async def test_a_legacy_publisher_is_delivered_in_arrival_order(
    redis_client: Redis, redis_keys: RedisKeys
) -> None:
    """Plain SET then PUBLISH, no seq; the second update is even stamped earlier than the first."""
    story = uuid.uuid4()
    feed = RedisProgressFeed(redis_client, JsonCodec(), redis_keys)
    now = datetime.now(UTC)
    sent = [
        wire(story, status="analyzing", progress_percent=10, updated_at=now.isoformat()),
        wire(
            story,
            status="generating",
            progress_percent=40,
            updated_at=(now - timedelta(seconds=3)).isoformat(),
        ),
        wire(
            story,
            status="complete",
            progress_percent=100,
            updated_at=(now + timedelta(seconds=1)).isoformat(),
        ),
    ]

    async with subscribed(feed) as events:
        for body in sent:
            await redis_client.set(redis_keys.snapshot(story), body)
            await redis_client.publish(redis_keys.story_channel(story), body)
        heard = [await next_event(events) for _ in sent]

    assert all(isinstance(u, ProgressUpdate) and u.seq is None for u in heard)
    assert [u.progress_percent for u in heard if isinstance(u, ProgressUpdate)] == [10, 40, 100]
    snapshot = next(iter(await feed.snapshots([story])), None)
    assert snapshot is not None
    assert snapshot.status is StoryStatus.COMPLETE
    assert snapshot.seq is None


async def test_the_publisher_takes_over_after_a_legacy_snapshot(
    redis_client: Redis, redis_keys: RedisKeys, redis_publisher: RedisProgressPublisher
) -> None:
    """A snapshot without seq (or not even JSON) starts the count at 1 instead of breaking the script."""
    legacy, broken = uuid.uuid4(), uuid.uuid4()
    await redis_client.set(redis_keys.snapshot(legacy), wire(legacy))
    await redis_client.set(redis_keys.snapshot(broken), b"not json")

    first = await redis_publisher.publish(make_update(legacy, StoryStatus.SYNTHESIZING, 80))
    second = await redis_publisher.publish(make_update(broken))

    assert (first.seq, second.seq) == (1, 1)
    stored = json.loads(await redis_client.get(redis_keys.snapshot(legacy)))
    assert stored["seq"] == 1
    assert stored["status"] == "synthesizing"


async def test_seq_never_goes_back_after_a_legacy_publisher_overwrote_the_snapshot(
    redis_client: Redis, redis_keys: RedisKeys, redis_publisher: RedisProgressPublisher
) -> None:
    story = uuid.uuid4()
    for percent in (10, 20, 30):
        await redis_publisher.publish(make_update(story, percent=percent))
    await redis_client.set(redis_keys.snapshot(story), wire(story))  # a legacy SET, without seq

    after = await redis_publisher.publish(make_update(story, StoryStatus.COMPLETE, 100))

    assert after.seq == 4
    assert json.loads(await redis_client.get(redis_keys.snapshot(story)))["seq"] == 4
    assert TTL_SECONDS - 5 <= await redis_client.ttl(redis_keys.counter(story)) <= TTL_SECONDS


async def test_the_channels_the_feed_remembers_are_bounded_and_every_story_still_parses(
    redis_client: Redis, redis_keys: RedisKeys, redis_publisher: RedisProgressPublisher
) -> None:
    feed = RedisProgressFeed(redis_client, JsonCodec(), redis_keys, channels=5)
    stories = [uuid.uuid4() for _ in range(30)]

    async with subscribed(feed) as events:
        published = [await redis_publisher.publish(make_update(story)) for story in stories + stories[:3]]
        received = [await next_event(events) for _ in published]

    assert received == published
    assert feed.channels_remembered == 5
