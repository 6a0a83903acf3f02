"""A Redis outage against the real server: a private redis-server is killed and restarted.

Readiness must say Redis is down, the listener must come back by itself, and the clients that
stayed connected must end holding what was published after the restart, although Redis lost
its data and `seq` starts again at 1 (lower than what the clients hold).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from websockets.asyncio.client import connect

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient, http_json
from testkit.metrics import scrape
from testkit.processes import GatewayProcess
from testkit.redis import RedisServer
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import TTL_SECONDS, NewStory, OwnedStory, StartGateway, redis_client_at

logger = logging.getLogger(__name__)
CLIENTS = 3
RESUMED_WITHIN = 0.5  # seconds from Redis answering again to the first update heard by every client
OUTAGE_SECONDS = 3.0  # the chaos run's outage: long enough for a doubling backoff to reach seconds


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
async def gateway(start_gateway: StartGateway, private_redis: RedisServer) -> GatewayProcess:
    process = start_gateway(REDIS_URL=private_redis.url)
    await wait_for_condition(lambda: readiness(process, 200), 10, "the gateway to be ready")
    return process


async def readiness(gateway: GatewayProcess, status: int, down: str | None = None) -> bool:
    code, body = await http_json(f"{gateway.http}/readyz")
    return code == status and (down is None or down in body.get("down", []))


@contextlib.asynccontextmanager
async def publisher(server: RedisServer, key_prefix: str) -> AsyncIterator[RedisProgressPublisher]:
    """A fresh client each time: after a restart the old one's connections are dead."""
    async with redis_client_at(server.url) as client:
        yield RedisProgressPublisher(client, JsonCodec(), RedisKeys(key_prefix), TTL_SECONDS)


@contextlib.asynccontextmanager
async def clients_holding_seq_5(
    gateway: GatewayProcess, story: OwnedStory, server: RedisServer, key_prefix: str
) -> AsyncIterator[list[ProgressClient]]:
    async with publisher(server, key_prefix) as before:
        for percent in range(10, 60, 10):
            await before.publish(make_update(story.id, StoryStatus.GENERATING, percent))
    async with contextlib.AsyncExitStack() as stack:
        url, wait = gateway.ws + story.path(), timeout(5)
        opened = [
            ProgressClient(await stack.enter_async_context(connect(url, open_timeout=wait)))
            for _ in range(CLIENTS)
        ]
        for client in opened:
            await client.read_seq(5)
        yield opened


async def listener_restarts(gateway: GatewayProcess) -> float:
    def scrape() -> str:
        with urllib.request.urlopen(f"{gateway.http}/metrics", timeout=timeout(5)) as response:  # noqa: S310
            return str(response.read().decode())

    found = re.search(
        r"^gateway_listener_restarts_total (\S+)$", await asyncio.to_thread(scrape), re.MULTILINE
    )
    return float(found.group(1)) if found else 0.0


async def listener_lost_the_broker(gateway: GatewayProcess) -> None:
    """Until the listener has lost its subscription (it then probes Redis until it answers)."""

    async def lost() -> bool:
        return await listener_restarts(gateway) >= 1

    await wait_for_condition(lost, 10, "the listener to lose the broker")


async def kill_redis(gateway: GatewayProcess, server: RedisServer) -> float:
    """Kill Redis and return how long readiness took to report it."""
    await asyncio.to_thread(server.stop)
    waited = await wait_for_condition(
        lambda: readiness(gateway, 503, "redis"), 5, "/readyz to report redis down"
    )
    logger.info("readyz reported redis down %.3f s after the kill", waited)
    return waited


async def test_readiness_follows_redis_down_and_back_and_a_complete_after_it_reaches_connected_clients(
    gateway: GatewayProcess, new_story: NewStory, private_redis: RedisServer, key_prefix: str
) -> None:
    story = await new_story()
    async with clients_holding_seq_5(gateway, story, private_redis, key_prefix) as opened:
        down_after = await kill_redis(gateway, private_redis)
        code, body = await http_json(f"{gateway.http}/readyz")
        await asyncio.to_thread(private_redis.start)
        back_after = await wait_for_condition(lambda: readiness(gateway, 200), 10, "/readyz back to 200")
        async with publisher(private_redis, key_prefix) as after:
            complete = await after.publish(make_update(story.id, StoryStatus.COMPLETE, 100))
        finals = await asyncio.gather(*(c.read_until(lambda m: m["status"] == "complete") for c in opened))

    logger.info("redis down seen in %.3f s, ready again %.3f s after restart", down_after, back_after)
    assert code == 503
    assert "redis" in body["down"]
    assert "postgres" not in body["down"]
    assert complete.seq == 1, "the restarted Redis lost its data: seq starts again"
    assert [m["seq"] for m in finals] == [1] * CLIENTS
    assert all(m["progress_percent"] == 100 for m in finals)


async def test_an_update_published_right_after_the_restart_reaches_connected_clients(
    gateway: GatewayProcess, new_story: NewStory, private_redis: RedisServer, key_prefix: str
) -> None:
    """Published at once: before the listener has resubscribed only the resync's snapshot brings it,
    after it the live message does; either way every client gets it."""
    story = await new_story()
    async with clients_holding_seq_5(gateway, story, private_redis, key_prefix) as opened:
        await kill_redis(gateway, private_redis)
        await listener_lost_the_broker(gateway)
        await asyncio.to_thread(private_redis.start)
        async with publisher(private_redis, key_prefix) as after:
            early = await after.publish(make_update(story.id, StoryStatus.SYNTHESIZING, 70))
            early_ready = await readiness(gateway, 200)
            held = await asyncio.gather(
                *(c.read_until(lambda m: m["status"] == "synthesizing") for c in opened)
            )
            await wait_for_condition(lambda: readiness(gateway, 200), 10, "/readyz back to 200")
            complete = await after.publish(make_update(story.id, StoryStatus.COMPLETE, 100))
            finals = await asyncio.gather(
                *(c.read_until(lambda m: m["status"] == "complete") for c in opened)
            )

    logger.info(
        "the gateway was %s ready when the early update was published", "already" if early_ready else "not"
    )
    assert early.seq == 1
    assert [m["seq"] for m in held] == [1] * CLIENTS
    assert [m["seq"] for m in finals] == [complete.seq] * CLIENTS == [2] * CLIENTS
    for client in opened:
        statuses = [m["status"] for m in client.received]
        assert statuses[-2:] == ["synthesizing", "complete"], statuses


async def test_a_client_that_connects_during_the_outage_gets_the_state_after_recovery(
    gateway: GatewayProcess, new_story: NewStory, private_redis: RedisServer, key_prefix: str
) -> None:
    story = await new_story()
    await kill_redis(gateway, private_redis)
    async with connect(gateway.ws + story.path(), open_timeout=timeout(5)) as connection:
        client = ProgressClient(connection)
        await listener_lost_the_broker(gateway)
        await asyncio.to_thread(private_redis.start)
        async with publisher(private_redis, key_prefix) as after:
            published = await after.publish(make_update(story.id, StoryStatus.ANALYZING, 5))
        held = await client.read_seq(1, seconds=10)

    assert held["seq"] == published.seq == 1
    assert held["progress_percent"] == 5


async def unready_throughout(gateway: GatewayProcess, seconds: float) -> int:
    """Probe /readyz every 0.1 s for `seconds` of an outage (the scenario's length, not a wait for
    something to happen): each answer must be 503 naming redis. Returns the probes made."""
    loop = asyncio.get_running_loop()
    until, probes = loop.time() + seconds, 0
    while loop.time() < until:
        assert await readiness(gateway, 503, "redis"), "/readyz said ready while Redis was down"
        probes += 1
        await asyncio.sleep(0.1)
    return probes


async def answering_again(server: RedisServer) -> float:
    """Start the killed Redis and return the loop time of the first PING it answered (probed every
    5 ms from before the start, on a fresh connection each time)."""
    loop = asyncio.get_running_loop()
    starting = asyncio.create_task(asyncio.to_thread(server.start))
    while True:
        try:
            async with asyncio.timeout(timeout(1)):
                client = Redis.from_url(server.url, socket_connect_timeout=0.2)
                try:
                    await client.ping()
                finally:
                    await client.aclose()
            answered = loop.time()
            break
        except (RedisError, OSError, TimeoutError):
            await asyncio.sleep(0.005)
    await starting
    return answered


async def test_deliveries_resume_within_half_a_second_of_redis_answering_again(
    gateway: GatewayProcess, new_story: NewStory, private_redis: RedisServer, key_prefix: str
) -> None:
    """After a 3 s outage (when a doubling backoff would wait seconds more), the listener, which
    probes a Redis that is down every 0.1 s, notices its return at once: from the first PING Redis
    answers to an update heard by every connected client."""
    story = await new_story()
    loop = asyncio.get_running_loop()
    async with clients_holding_seq_5(gateway, story, private_redis, key_prefix) as opened:
        await kill_redis(gateway, private_redis)
        await listener_lost_the_broker(gateway)
        assert await unready_throughout(gateway, OUTAGE_SECONDS) >= 1
        down = (await scrape(gateway.http)).value("gateway_listener_up")
        answered = await answering_again(private_redis)
        async with publisher(private_redis, key_prefix) as after:

            async def keep_publishing() -> None:
                for percent in range(1, 100):
                    await after.publish(make_update(story.id, StoryStatus.SYNTHESIZING, percent))
                    await asyncio.sleep(0.02)

            publishing = asyncio.create_task(keep_publishing())
            try:
                heard = [await c.read_until(lambda m: m["status"] == "synthesizing") for c in opened]
                heard_at = loop.time()
            finally:
                publishing.cancel()
    resumed = heard_at - answered
    up = (await scrape(gateway.http)).value("gateway_listener_up")

    logger.info("redis answered again; every client heard an update %.3f s later", resumed)
    assert all(m["status"] == "synthesizing" for m in heard)
    assert (down, up) == (0, 1)
    assert resumed < timeout(RESUMED_WITHIN), f"updates resumed {resumed:.3f} s after Redis answered"
