"""`MAX_CONNECTIONS_PER_USER` against the real server: with a limit of 3, a user's story and dashboard
sockets share it, the 4th is accepted and then closed with 4029 `too_many_connections`, a slot freed
by a client that leaves lets a new connection in, and another user is never affected."""

from __future__ import annotations

from contextlib import AsyncExitStack

from websockets.asyncio.client import ClientConnection, connect

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient, closed_with
from testkit.metrics import scrape
from testkit.processes import GatewayProcess
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import NewStory, OwnedStory, StartGateway

LIMIT = 3


async def served(stack: AsyncExitStack, url: str) -> ClientConnection:
    """Connected and holding the story's snapshot: a connection that holds a slot."""
    connection = await stack.enter_async_context(connect(url, open_timeout=timeout(5)))
    await ProgressClient(connection).read_seq(1)
    return connection


async def open_connections(gateway: GatewayProcess, wanted: float) -> None:
    """Until the server counts `wanted` open connections (a freed slot is given back as it ends)."""

    async def reached() -> bool:
        return (await scrape(gateway.http)).value("gateway_connections") == wanted

    await wait_for_condition(reached, 5, f"{wanted} open connections")


def dashboard_url(gateway: GatewayProcess, story: OwnedStory) -> str:
    return f"{gateway.ws}/ws/user/stories?token={story.token}"


async def test_the_user_over_the_limit_gets_4029_until_one_of_theirs_leaves(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway(MAX_CONNECTIONS_PER_USER=str(LIMIT))
    mine, theirs = await new_story(), await new_story()
    for story in (mine, theirs):
        await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 10))
    async with AsyncExitStack() as stack:
        held = [await served(stack, gateway.ws + mine.path()) for _ in range(LIMIT - 1)]
        held.append(await served(stack, dashboard_url(gateway, mine)))
        over_story = await closed_with(gateway.ws + mine.path())
        over_dashboard = await closed_with(dashboard_url(gateway, mine))
        others = [await served(stack, gateway.ws + theirs.path()) for _ in range(LIMIT)]

        await held.pop(0).close()
        await open_connections(gateway, 2 * LIMIT - 1)
        held.append(await served(stack, gateway.ws + mine.path()))
        over_again = await closed_with(gateway.ws + mine.path())
        metrics = await scrape(gateway.http)

    assert over_story == over_dashboard == over_again == (4029, "too_many_connections")
    assert len(held) == len(others) == LIMIT
    assert metrics.value("gateway_closes_total", code="4029") == 3
    assert metrics.value("gateway_connections_closed_total", reason="too_many_connections") == 3
