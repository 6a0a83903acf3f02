"""Readiness: which dependency is named down, Redis counting as down while the hub's listener is."""

from __future__ import annotations

import asyncio

from adapters.memory import MemoryBroker, MemoryStoryDirectory
from domain.aio.backoff import Backoff
from domain.health import Readiness, down_dependencies
from testkit.waiting import Clock
from tests.unit.conftest import MakeRig, Rig, eventually


class HungBroker(MemoryBroker):
    """A broker that accepts the connection and never answers a command."""

    async def ping(self) -> None:
        await asyncio.Event().wait()


async def test_nothing_is_down_on_working_fakes(rig: Rig) -> None:
    assert await down_dependencies(rig.hub, rig.broker, rig.directory) == []


async def test_a_failed_directory_is_named_postgres(rig: Rig) -> None:
    rig.directory.fail()

    assert await down_dependencies(rig.hub, rig.broker, rig.directory) == ["postgres"]


async def test_a_failed_broker_is_named_redis_until_the_listener_is_back(make_rig: MakeRig) -> None:
    rig = await make_rig(backoff=Backoff(base=0.01, cap=0.05))
    rig.broker.fail()
    rig.directory.fail()

    assert await down_dependencies(rig.hub, rig.broker, rig.directory) == ["redis", "postgres"]
    rig.broker.recover()
    await eventually(lambda: rig.hub.ready)
    assert await down_dependencies(rig.hub, rig.broker, rig.directory) == ["postgres"]


async def test_a_broker_that_hangs_is_down_after_the_timeout(rig: Rig) -> None:
    down = await down_dependencies(rig.hub, HungBroker(), rig.directory, timeout=0.05)

    assert down == ["redis"]


class CountingBroker(MemoryBroker):
    """Counts pings, and holds each one until `answer` is set (so many callers overlap one)."""

    def __init__(self) -> None:
        super().__init__()
        self.pings = 0
        self.answer = asyncio.Event()
        self.answer.set()

    async def ping(self) -> None:
        self.pings += 1
        await self.answer.wait()
        await super().ping()


class CountingDirectory(MemoryStoryDirectory):
    def __init__(self) -> None:
        super().__init__()
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        await super().ping()


async def test_callers_at_once_share_one_probe(rig: Rig) -> None:
    broker, directory = CountingBroker(), CountingDirectory()
    readiness = Readiness(rig.hub, broker, directory, clock=Clock(100.0))
    broker.answer.clear()

    callers = [asyncio.ensure_future(readiness.down()) for _ in range(100)]
    await eventually(lambda: broker.pings == 1)
    broker.answer.set()

    assert await asyncio.gather(*callers) == [[]] * 100
    assert (broker.pings, directory.pings) == (1, 1)


async def test_an_answer_is_reused_for_one_second_then_probed_again(rig: Rig) -> None:
    broker, directory, clock = CountingBroker(), CountingDirectory(), Clock(100.0)
    readiness = Readiness(rig.hub, broker, directory, clock=clock)

    assert await readiness.down() == []
    directory.fail()
    clock.now += 0.99
    assert [await readiness.down() for _ in range(50)] == [[]] * 50
    clock.now += 0.01

    assert await readiness.down() == ["postgres"]
    assert (broker.pings, directory.pings) == (2, 2)


async def test_a_caller_that_gives_up_leaves_the_probe_to_the_others(rig: Rig) -> None:
    broker = CountingBroker()
    readiness = Readiness(rig.hub, broker, CountingDirectory(), clock=Clock(100.0))
    broker.answer.clear()
    impatient, patient = asyncio.ensure_future(readiness.down()), asyncio.ensure_future(readiness.down())
    await eventually(lambda: broker.pings == 1)

    impatient.cancel()
    broker.answer.set()

    assert await patient == []
    assert impatient.cancelled()
    assert broker.pings == 1
