"""A PostgreSQL outage against the real server: a private PostgreSQL is stopped and started again.

A new connection whose story's owner this process has not confirmed yet cannot be authorised
without the directory, so it is closed with 1013 (`unavailable`) quickly instead of hanging; a
dashboard (which lists the user's stories) likewise. Ownership already confirmed never changes and
is served from memory, so a reload of a page already watching a story keeps working. Connections
already open keep streaming; once PostgreSQL is back new connections succeed without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient, http_json
from testkit.postgres import PostgresServer
from testkit.processes import GatewayProcess
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import OwnedStory, StartGateway, issue_token

logger = logging.getLogger(__name__)
REFUSAL_LIMIT = 2.0  # seconds from connecting to the 1013 close


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().init().start()
    try:
        asyncio.run(server.create_stories())
        yield server
    finally:
        server.destroy()


@pytest.fixture
async def gateway(start_gateway: StartGateway, private_postgres: PostgresServer) -> GatewayProcess:
    process = start_gateway(DATABASE_URL=private_postgres.url)

    async def ready() -> bool:
        return (await http_json(f"{process.http}/readyz"))[0] == 200

    await wait_for_condition(ready, 10, "the gateway to be ready")
    return process


async def owned_story(server: PostgresServer) -> OwnedStory:
    story, user = uuid.uuid4(), uuid.uuid4()
    await server.insert_story(story, user)
    return OwnedStory(story, user, issue_token(user))


async def refused(url: str) -> tuple[int, str, float]:
    """Connect to `url` and expect the server to close: the close code, reason and seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(timeout(10)), connect(url, open_timeout=timeout(5)) as connection:
            message = await connection.recv()
            pytest.fail(f"the connection was served during the outage: {message!r}")
    except ConnectionClosed as closed:
        frame = closed.rcvd
    except TimeoutError:
        pytest.fail(f"no close within {timeout(10):.0f} s while PostgreSQL was down")
    assert frame is not None, "the server did not send a close frame"
    return frame.code, frame.reason, loop.time() - start


async def readyz_when_down(gateway: GatewayProcess) -> tuple[int, dict[str, Any]]:
    """/readyz answers from a probe up to 1 s old: the outage shows within that second."""
    answer: list[tuple[int, dict[str, Any]]] = []

    async def down() -> bool:
        answer[:] = [await http_json(f"{gateway.http}/readyz")]
        return answer[0][0] != 200

    await wait_for_condition(down, 3, "/readyz to see the outage")
    return answer[0]


async def test_a_postgres_outage_refuses_new_connections_with_1013_and_spares_open_ones(
    gateway: GatewayProcess, private_postgres: PostgresServer, redis_publisher: RedisProgressPublisher
) -> None:
    story, unseen = await owned_story(private_postgres), await owned_story(private_postgres)
    await redis_publisher.publish(make_update(story.id, percent=10))
    async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as connection:
        before = ProgressClient(connection)
        await before.read_seq(1)

        await asyncio.to_thread(private_postgres.stop)
        refusals = [await refused(gateway.ws + unseen.path()) for _ in range(3)]
        dashboard = await refused(f"{gateway.ws}/ws/user/stories?token={story.token}")
        async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as reload:
            reloaded = await ProgressClient(reload).read_seq(1)
        ready_code, ready_body = await readyz_when_down(gateway)
        during = [  # two statuses: percent-only updates within one status may be merged
            await redis_publisher.publish(make_update(story.id, status, percent))
            for status, percent in ((StoryStatus.GENERATING, 20), (StoryStatus.SYNTHESIZING, 30))
        ]
        streamed = await before.read_seq(during[-1].seq or 0)

        await asyncio.to_thread(private_postgres.start)
        loop = asyncio.get_running_loop()
        back = loop.time()
        async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as fresh:
            after = await ProgressClient(fresh).read_seq(3)
        recovery = loop.time() - back
        latest = await redis_publisher.publish(make_update(story.id, StoryStatus.COMPLETE, 100))
        final = await before.read_seq(latest.seq or 0)

    logger.info(
        "1013 after %s s (dashboard %.3f s); first new connection served %.3f s after PostgreSQL was back",
        ", ".join(f"{seconds:.3f}" for _, _, seconds in refusals),
        dashboard[2],
        recovery,
    )
    for code, reason, seconds in [*refusals, dashboard]:
        assert (code, reason) == (1013, "unavailable")
        assert seconds < REFUSAL_LIMIT, f"1013 took {seconds:.2f} s"
    assert reloaded["progress_percent"] == 10
    assert ready_code == 503
    assert ready_body["down"] == ["postgres"]
    assert streamed["progress_percent"] == 30
    assert before.seqs() == [1, 2, 3, 4]
    assert after["seq"] == 3
    assert final["status"] == "complete"


async def test_a_connection_attempted_while_postgres_is_down_succeeds_once_it_is_back(
    gateway: GatewayProcess, private_postgres: PostgresServer, redis_publisher: RedisProgressPublisher
) -> None:
    """What a well-behaved client does on 1013: reconnect later; it must then get its snapshot."""
    story = await owned_story(private_postgres)
    published = await redis_publisher.publish(make_update(story.id, StoryStatus.SYNTHESIZING, 90))
    await asyncio.to_thread(private_postgres.stop)
    code, _, _ = await refused(gateway.ws + story.path())
    await asyncio.to_thread(private_postgres.start)

    async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as connection:
        snapshot = await ProgressClient(connection).read_seq(1)

    assert code == 1013
    assert snapshot["seq"] == published.seq
    assert snapshot["status"] == "synthesizing"
