"""Ownership that stays true, against the real `serve` and PostgreSQL (standalone Redis).

A story moved (`UPDATE stories SET user_id`) or deleted closes its old owner's story socket with
4003 `forbidden` within `OWNERSHIP_TTL_SECONDS`, or at once on a revocation (the story id published
on `{prefix}revocations`); the old owner can no longer connect, the new one can; the old owner's
dashboard stops getting the story, the new owner's gets it. And `status` answers once per story
even when the stored state changed without a publish.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import AsyncExitStack
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient, closed_with, closed_within
from testkit.postgres import Database, execute
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import NewStory, OwnedStory, StartGateway, issue_token

logger = logging.getLogger(__name__)
TTL = 1.0  # OWNERSHIP_TTL_SECONDS of the TTL tests: a re-check every 0.9 s


async def client(stack: AsyncExitStack, gateway: GatewayProcess, path: str) -> ProgressClient:
    connection = await stack.enter_async_context(connect(gateway.ws + path, open_timeout=timeout(5)))
    return ProgressClient(connection)


def dashboard_path(token: str) -> str:
    return f"/ws/user/stories?token={token}"


async def refused(gateway: GatewayProcess, path: str) -> tuple[int, str]:
    return await closed_with(gateway.ws + path)


async def move(database: Database, story: uuid.UUID, to: uuid.UUID) -> None:
    await execute(database.dsn, "UPDATE stories SET user_id = $1 WHERE id = $2", to, story)


async def delete(database: Database, story: uuid.UUID) -> None:
    await execute(database.dsn, "DELETE FROM stories WHERE id = $1", story)


@pytest.mark.parametrize("change", ["moved", "deleted"])
async def test_a_moved_or_deleted_story_closes_its_socket_with_4003_within_the_ttl(
    start_gateway: StartGateway,
    new_story: NewStory,
    database: Database,
    redis_publisher: RedisProgressPublisher,
    change: str,
) -> None:
    gateway = start_gateway(OWNERSHIP_TTL_SECONDS=str(TTL))
    story, buyer = await new_story(), uuid.uuid4()
    await redis_publisher.publish(make_update(story.id, percent=10))
    async with AsyncExitStack() as stack:
        watching = await client(stack, gateway, story.path())
        await watching.read_seq(1)

        await (move(database, story.id, buyer) if change == "moved" else delete(database, story.id))
        code, reason, seconds = await closed_within(watching.connection, TTL * 3)
        again = await refused(gateway, story.path())
        if change == "moved":
            theirs = await client(stack, gateway, OwnedStory(story.id, buyer, issue_token(buyer)).path())
            assert (await theirs.read_seq(1))["progress_percent"] == 10

    logger.info("%s story: its socket closed %.3f s after the change (TTL %.1f s)", change, seconds, TTL)
    assert (code, reason) == (4003, "forbidden")
    assert seconds < timeout(TTL) + 0.5
    assert again == (4003, "forbidden")


async def test_a_revocation_closes_at_once_well_under_the_ttl(
    start_gateway: StartGateway,
    new_story: NewStory,
    database: Database,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway()  # the default TTL, 60 s
    story, buyer = await new_story(), uuid.uuid4()
    await redis_publisher.publish(make_update(story.id, percent=10))
    async with AsyncExitStack() as stack:
        watching = await client(stack, gateway, story.path())
        await watching.read_seq(1)

        await move(database, story.id, buyer)
        await redis_client.publish(redis_keys.revocations, str(story.id))
        code, reason, seconds = await closed_within(watching.connection, 5)
        again = await refused(gateway, story.path())
        theirs = await client(stack, gateway, OwnedStory(story.id, buyer, issue_token(buyer)).path())
        await theirs.read_seq(1)

    logger.info("revoked story: its socket closed %.3f s after the revocation", seconds)
    assert (code, reason) == (4003, "forbidden")
    assert seconds < timeout(1.0)
    assert again == (4003, "forbidden")


async def test_a_moved_story_leaves_the_old_owners_dashboard_and_joins_the_new_owners(
    start_gateway: StartGateway,
    new_story: NewStory,
    database: Database,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway()
    story, buyer = await new_story(), uuid.uuid4()
    kept = uuid.uuid4()
    await database.insert_story(kept, story.user)
    moved_first = await redis_publisher.publish(make_update(story.id, percent=10))
    await redis_publisher.publish(make_update(kept, percent=50))
    async with AsyncExitStack() as stack:
        mine = await client(stack, gateway, dashboard_path(story.token))
        theirs = await client(stack, gateway, dashboard_path(issue_token(buyer)))
        await mine.read_until(lambda _: len(mine.received) == 2)

        await move(database, story.id, buyer)
        await redis_client.publish(redis_keys.revocations, str(story.id))
        offered = await theirs.read_until(lambda m: m["story_id"] == str(story.id))
        moved = await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 60))
        last = await redis_publisher.publish(make_update(kept, StoryStatus.GENERATING, 70))
        await theirs.read_seq(moved.seq or 0)
        await mine.read_until(lambda m: m["story_id"] == str(kept) and m["seq"] == last.seq)
        status = await answer(mine.connection, "status")

    assert offered["seq"] == moved_first.seq
    assert [m["story_id"] for m in mine.received].count(str(story.id)) == 1  # its snapshot, nothing after
    assert [m["story_id"] for m in status] == [str(kept)]


async def answer(connection: ClientConnection, command: str) -> list[dict[str, Any]]:
    """The progress messages the server sends in answer to `command` (a `ping` after it ends it)."""
    await connection.send(command)
    await connection.send("ping")
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout(5)):
        while (text := await connection.recv()) != "pong":
            if isinstance(text, str) and text.startswith("{"):
                messages.append(json.loads(text))
    return messages


async def test_status_answers_once_per_story_when_the_stored_state_changed_without_a_publish(
    start_gateway: StartGateway,
    new_story: NewStory,
    database: Database,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
) -> None:
    gateway = start_gateway()
    story, second = await new_story(), uuid.uuid4()
    await database.insert_story(second, story.user)
    first = await redis_publisher.publish(make_update(story.id, percent=10))
    other = await redis_publisher.publish(make_update(second, percent=20))
    stored = {**first.to_wire(), "status": "synthesizing", "progress_percent": 80, "seq": 9}
    async with AsyncExitStack() as stack:
        dashboard = await client(stack, gateway, dashboard_path(story.token))
        watching = await client(stack, gateway, story.path())
        await dashboard.read_until(lambda _: len(dashboard.received) == 2)
        await watching.read_seq(1)

        await redis_client.set(redis_keys.snapshot(story.id), json.dumps(stored))
        on_dashboard = await answer(dashboard.connection, "status")
        on_story = await answer(watching.connection, "status")

    assert sorted(on_dashboard, key=lambda m: str(m["story_id"])) == sorted(
        [stored, other.to_wire()], key=lambda m: str(m["story_id"])
    )
    assert on_story == [stored]
