"""`/readyz` on the real server answers from a probe at most one second old: however often it is
asked, Redis (a private instance, so its command counts are ours alone) sees about one PING a second."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from testkit.redis import RedisServer
from testkit.waiting import timeout, wait_for_condition
from tests.integration.conftest import StartGateway, redis_client_at


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def pings(admin: Redis) -> int:
    stats = await admin.info("commandstats")
    return int(stats.get("cmdstat_ping", {}).get("calls", 0))


async def test_readyz_probes_at_most_once_a_second_however_often_it_is_asked(
    start_gateway: StartGateway, private_redis: RedisServer
) -> None:
    gateway = start_gateway(REDIS_URL=private_redis.url)
    url = gateway.http + "/readyz"
    async with redis_client_at(private_redis.url) as admin, httpx.AsyncClient(timeout=timeout(5)) as http:

        async def ready() -> bool:
            return (await http.get(url)).status_code == 200

        await wait_for_condition(ready, 10, "/readyz to answer 200")
        before, started = await pings(admin), asyncio.get_running_loop().time()
        statuses = []
        for _ in range(10):
            answers = await asyncio.gather(*(http.get(url) for _ in range(30)))
            statuses.extend(answer.status_code for answer in answers)
        elapsed = asyncio.get_running_loop().time() - started
        probes = await pings(admin) - before

    assert statuses == [200] * 300
    assert probes <= elapsed + 2, f"{probes} PINGs for 300 /readyz in {elapsed:.1f} s"
