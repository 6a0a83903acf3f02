"""Delivery guarantees end to end: the real server, Redis and PostgreSQL, `websockets` clients.

Per story a client never receives an older `seq` after a newer one, and always ends holding the
latest update, whoever publishes concurrently and whenever the client connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient, http_json
from testkit.processes import GatewayProcess
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import NewStory, OwnedStory, StartGateway

CYCLE = (StoryStatus.ANALYZING, StoryStatus.GENERATING, StoryStatus.SYNTHESIZING)


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> GatewayProcess:
    process = start_gateway()

    async def ready() -> bool:
        return (await http_json(f"{process.http}/readyz"))[0] == 200

    await wait_for_condition(ready, 10, "the gateway to be ready")
    return process


@contextlib.asynccontextmanager
async def clients(
    gateway: GatewayProcess, story: OwnedStory, count: int
) -> AsyncIterator[list[ProgressClient]]:
    async with contextlib.AsyncExitStack() as stack:
        opened = [
            ProgressClient(
                await stack.enter_async_context(connect(gateway.ws + story.path(), open_timeout=timeout(5)))
            )
            for _ in range(count)
        ]
        yield opened


async def publish_concurrently(
    publisher: RedisProgressPublisher, story: uuid.UUID, workers: int, each: int
) -> list[ProgressUpdate]:
    async def worker(number: int) -> list[ProgressUpdate]:
        return [
            await publisher.publish(make_update(story, CYCLE[i * 3 // each], i, step=f"worker {number}, {i}"))
            for i in range(each)
        ]

    return [u for batch in await asyncio.gather(*(worker(n) for n in range(workers))) for u in batch]


def strictly_increasing(seqs: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(seqs))


async def test_a_client_never_receives_an_older_seq_after_a_newer_one(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    stories = [await new_story() for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        early = [c for s in stories for c in await stack.enter_async_context(clients(gateway, s, 2))]
        publishing = [
            asyncio.create_task(publish_concurrently(redis_publisher, s.id, 5, 20)) for s in stories
        ]
        late = [c for s in stories for c in await stack.enter_async_context(clients(gateway, s, 1))]
        await asyncio.gather(*publishing)
        finals = [
            await redis_publisher.publish(make_update(s.id, StoryStatus.COMPLETE, 100)) for s in stories
        ]
        await asyncio.gather(*(c.read_until(lambda m: m["status"] == "complete") for c in [*early, *late]))

    assert [f.seq for f in finals] == [101, 101, 101]
    for client in [*early, *late]:
        assert strictly_increasing(client.seqs()), client.seqs()
        assert client.received[-1]["seq"] == 101
        assert {m["story_id"] for m in client.received} == {client.received[0]["story_id"]}


async def test_every_client_ends_holding_the_last_of_200_rapid_concurrent_updates(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    async with clients(gateway, story, 5) as opened:
        published = await publish_concurrently(redis_publisher, story.id, 10, 20)
        last = max(published, key=lambda u: u.seq or 0)
        holding = await asyncio.gather(*(c.read_seq(200) for c in opened))

    assert last.seq == 200
    for client, message in zip(opened, holding, strict=True):
        assert message["seq"] == 200
        assert message["current_step"] == last.current_step
        assert strictly_increasing(client.seqs()), client.seqs()


async def test_an_update_published_right_after_the_handshake_is_never_lost(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    """The server subscribes and reads the snapshot after accepting: whether the update lands before,
    between or after those steps, the client must end holding it, and never see seq go back."""
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, percent=0))
    for attempt in range(30):
        async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as connection:
            client = ProgressClient(connection)
            published = await redis_publisher.publish(make_update(story.id, CYCLE[attempt % 3], attempt))
            held = await client.read_seq(published.seq or 0)

        assert held["seq"] == published.seq, f"attempt {attempt}: {client.received}"
        assert held["progress_percent"] == attempt
        assert strictly_increasing(client.seqs()), f"attempt {attempt}: {client.seqs()}"


async def test_a_first_update_published_while_a_fresh_story_connects_is_never_lost(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    """The same race for stories without any snapshot yet: the first update is the only one."""
    for attempt in range(30):
        story = await new_story()
        async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as connection:
            client = ProgressClient(connection)
            published = await redis_publisher.publish(make_update(story.id, percent=attempt))
            held = await client.read_seq(1)

        assert published.seq == 1
        assert client.seqs() == [1], f"attempt {attempt}: {client.received}"
        assert held["progress_percent"] == attempt
