"""A connect storm is normal load: 1,000 clients connecting at once must never look like a Redis fault.

Every client gets its snapshot, then every status change, and the server logs no warning (before
the fix, redis-py's pool refused most snapshot reads and each such connect took the degraded path).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import uuid
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import ClientConnection, connect

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import StartGateway, issue_token

CLIENTS = 1000
STATUSES = [StoryStatus.GENERATING, StoryStatus.SYNTHESIZING, StoryStatus.COMPLETE]


pytestmark = pytest.mark.serial  # a storm of 1,000 connects measures the machine: alone


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> Iterator[None]:
    """1,000 sockets on each side; the gateway inherits the limit from this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def open_all(
    gateway: GatewayProcess, paths: list[str], stack: contextlib.AsyncExitStack
) -> list[ProgressClient]:
    async def one(path: str) -> ProgressClient:
        connection: ClientConnection = await stack.enter_async_context(
            connect(gateway.ws + path, open_timeout=timeout(30), ping_interval=None, max_queue=None)
        )
        return ProgressClient(connection)

    return list(await asyncio.gather(*(one(path) for path in paths)))


async def storm(
    start_gateway: StartGateway, database: Database, publisher: RedisProgressPublisher, stories: int
) -> None:
    gateway = start_gateway(MAX_CONNECTIONS_PER_USER=str(CLIENTS))  # one story's watchers are one user's
    owned = []
    for _ in range(stories):
        story, user = uuid.uuid4(), uuid.uuid4()
        await database.insert_story(story, user)
        await publisher.publish(make_update(story, StoryStatus.ANALYZING, 0))
        owned.append(f"/ws/stories/{story}/progress?token={issue_token(user)}")
    paths = [owned[i % stories] for i in range(CLIENTS)]

    async with contextlib.AsyncExitStack() as stack:
        clients = await open_all(gateway, paths, stack)
        snapshots = await asyncio.gather(*(c.read_until(lambda m: True, seconds=30) for c in clients))
        for index, status in enumerate(STATUSES, 1):
            for path in owned:
                story_id = uuid.UUID(path.split("/")[3])
                await publisher.publish(make_update(story_id, status, 30 * index))
        finals = await asyncio.gather(
            *(c.read_until(lambda m: m["status"] == "complete", seconds=30) for c in clients)
        )

    assert all(s["status"] == "analyzing" and s["seq"] == 1 for s in snapshots)
    assert all(f["seq"] == len(STATUSES) + 1 for f in finals)
    for client in clients:
        assert [m["status"] for m in client.received] == ["analyzing", *STATUSES]
    log = gateway.log()
    assert " WARNING " not in log, log[-3000:]
    assert " ERROR " not in log, log[-3000:]


async def test_a_thousand_clients_connecting_at_once_to_one_story_all_get_everything(
    start_gateway: StartGateway, database: Database, redis_publisher: RedisProgressPublisher
) -> None:
    await storm(start_gateway, database, redis_publisher, stories=1)


async def test_a_thousand_clients_connecting_at_once_to_a_hundred_stories_all_get_everything(
    start_gateway: StartGateway, database: Database, redis_publisher: RedisProgressPublisher
) -> None:
    await storm(start_gateway, database, redis_publisher, stories=100)
