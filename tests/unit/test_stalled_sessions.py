"""The stalled flag through whole sessions on the fakes: the hub's background check sends it, a
heartbeat clears it, and a connect's snapshot and `status` carry it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers

from adapters.memory import MemorySocket, MemoryWorkerSignals
from domain.hub.stalled import StallRules
from testkit.waiting import timeout
from tests.unit.conftest import Rig, memory_container, progress, rig_on

AFTER = 0.4  # checked every 0.1 s


@pytest.fixture
async def quick() -> AsyncIterator[Rig]:
    container = memory_container()
    container.stall_rules.override(providers.Object(StallRules(after=AFTER)))
    rig = await rig_on(container)
    yield rig
    await rig.close()


def signals(rig: Rig) -> MemoryWorkerSignals:
    fake: MemoryWorkerSignals = rig.container.memory_signals()
    return fake


def stalled(socket: MemorySocket) -> list[bool]:
    return [m.get("stalled", False) for m in progress(socket)]


async def test_a_watcher_is_told_the_story_stalled_then_that_its_worker_is_back(quick: Rig) -> None:
    latest = await quick.publish(percent=30)
    socket = quick.open_story()
    await socket.wait_for(lambda s: stalled(s) == [False, True], timeout(3))

    signals(quick).heartbeat(quick.story, 1)
    await socket.wait_for(lambda s: stalled(s) == [False, True, False], timeout(3))

    assert {m["seq"] for m in progress(socket)} == {latest.seq}
    assert "stalled" not in progress(socket)[-1]


async def test_a_connect_to_a_stalled_story_gets_the_flag_in_its_snapshot_and_in_status(quick: Rig) -> None:
    await quick.publish(percent=30)
    first = quick.open_story()
    await first.wait_for(lambda s: stalled(s) == [False, True], timeout(3))

    second = quick.open_story()
    await second.wait_for(lambda s: len(progress(s)) >= 1, timeout(2))
    second.say("status")
    await second.wait_for(lambda s: len(progress(s)) >= 2, timeout(2))

    assert stalled(second)[:2] == [True, True]


async def test_a_new_update_clears_the_flag(quick: Rig) -> None:
    await quick.publish(percent=30)
    socket = quick.open_story()
    await socket.wait_for(lambda s: stalled(s) == [False, True], timeout(3))

    await quick.publish(percent=40)
    await socket.wait_for(lambda s: len(progress(s)) >= 3, timeout(2))

    assert progress(socket)[2]["progress_percent"] == 40
    assert stalled(socket)[2] is False


async def test_a_dashboard_is_told_too(quick: Rig) -> None:
    await quick.publish(percent=30)
    socket = quick.open_dashboard(quick.tokens.issue(quick.user))
    await socket.wait_for(lambda s: stalled(s) == [False, True], timeout(3))
