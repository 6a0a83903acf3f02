"""`serve --workers 2` against the real server: when a worker is replaced after its clients went to
the survivor, the survivor closes its excess with 1012 `rebalance` once the replacement has settled,
and the clients, reconnecting, end spread over both workers.

The replacement is held back by stopping the supervisor (SIGSTOP) while the victim is killed, so
that every reconnect lands on the survivor, as in the chaos run (372 against 128 sockets)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import ProgressClient
from testkit.processes import GatewayProcess, tcp_sockets
from testkit.waiting import timeout, wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import TwoWorkers

logger = logging.getLogger(__name__)
CLIENTS = 40


@dataclass
class Holder:
    """A client that stays connected: it reconnects at once whenever its connection ends."""

    url: str
    closes: list[tuple[int, str]] = field(default_factory=list)
    latest: int = 0  # the newest seq held
    connected: bool = False

    async def run(self) -> None:
        while True:
            try:
                async with connect(self.url, open_timeout=timeout(5)) as connection:
                    client = ProgressClient(connection)
                    self.latest = int((await client.read_seq(1, seconds=10))["seq"])
                    self.connected = True
                    with suppress(ConnectionClosed):
                        while True:
                            self.latest = int((await client.read_seq(self.latest + 1, seconds=3600))["seq"])
            except (OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.01)  # refused while no worker listened: try again
                continue
            finally:
                self.connected = False
            received = connection.protocol.close_rcvd
            self.closes.append((received.code, received.reason) if received else (1006, ""))


@asynccontextmanager
async def holders(url: str, count: int) -> AsyncIterator[list[Holder]]:
    fleet = [Holder(url) for _ in range(count)]
    tasks = [asyncio.create_task(holder.run()) for holder in fleet]
    try:
        await wait_for_condition(lambda: _all(fleet), 20, f"{count} clients connected")
        yield fleet
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _all(fleet: list[Holder]) -> bool:
    return all(holder.connected for holder in fleet)


def held_by(gateway: GatewayProcess, workers: list[int]) -> list[int]:
    return [len(tcp_sockets(worker, gateway.port).peers) for worker in workers]


async def test_the_survivor_hands_its_excess_to_the_replacement(
    two_workers: TwoWorkers, redis_publisher: RedisProgressPublisher
) -> None:
    gateway, story = two_workers.gateway, two_workers.story
    victim, survivor = two_workers.workers
    async with holders(gateway.ws + story.path(), CLIENTS) as fleet:
        os.kill(gateway.pid, signal.SIGSTOP)
        try:
            os.kill(victim, signal.SIGKILL)

            async def all_on_survivor() -> bool:
                return held_by(gateway, [survivor]) == [CLIENTS] and await _all(fleet)

            await wait_for_condition(all_on_survivor, 20, "every client on the survivor")
        finally:
            os.kill(gateway.pid, signal.SIGCONT)
        replacement = next(w for w in await asyncio.to_thread(gateway.wait_workers, 2) if w != survivor)
        before = held_by(gateway, [survivor, replacement])

        async def spread() -> bool:
            counts = held_by(gateway, [survivor, replacement])
            return sum(counts) == CLIENTS and min(counts) >= CLIENTS // 4 and await _all(fleet)

        waited = await wait_for_condition(spread, 30, "the clients spread over both workers")
        after = held_by(gateway, [survivor, replacement])
        update = await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 20))
        await wait_for_condition(
            lambda: _holding(fleet, update.seq or 0), 10, "every client holding the update"
        )

    rebalanced = sum(close == (1012, "rebalance") for holder in fleet for close in holder.closes)
    logger.info(
        "survivor/replacement: %s before, %s after %.1f s; %d clients closed with 1012",
        before, after, waited, rebalanced,
    )  # fmt: skip
    assert before == [CLIENTS, 0]
    assert min(after) >= CLIENTS // 4
    assert CLIENTS // 2 <= rebalanced < CLIENTS
    assert any(f"rebalancing connections {counts}" in gateway.log() for counts in ("[40, 0]", "[0, 40]"))


async def _holding(fleet: list[Holder], seq: int) -> bool:
    return all(holder.latest >= seq for holder in fleet)
