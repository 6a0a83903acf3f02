"""Readiness: which dependency is named down, Redis counting as down while the hub's listener is."""

from __future__ import annotations

import asyncio

from adapters.memory import MemoryBroker
from domain.aio.backoff import Backoff
from domain.health import down_dependencies
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
