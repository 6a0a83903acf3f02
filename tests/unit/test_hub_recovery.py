"""Snapshots that could not be read when a client connected still reach it, and dashboards keep order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from adapters.memory import MemoryBroker, MemorySocket
from domain.aio.backoff import Backoff
from domain.errors import FeedUnavailable
from domain.gateway import Gateway
from domain.hub.hub import ProgressHub
from domain.progress import ProgressUpdate, StoryStatus
from entrypoints.container import Container
from testkit.waiting import timeout
from tests.unit.conftest import MakeRig, eventually, memory_container, progress

QUICK = Backoff(base=0.01, cap=0.05)


class FlakySnapshots(MemoryBroker):
    """A broker whose next `n` snapshot reads fail while its subscription stays up (a read timeout)."""

    failures = 0

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        if self.failures:
            self.failures -= 1
            raise FeedUnavailable("read timed out")
        return await super().snapshots(story_ids)


@dataclass
class Parts:
    """The app's wiring over `broker`, its hub not started yet (so a test can break the broker first)."""

    broker: MemoryBroker
    container: Container
    story: UUID = field(default_factory=uuid.uuid4)
    user: UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        self.container.directory().add(self.story, self.user)

    async def start(self) -> ProgressHub:
        self.hub: ProgressHub = await self.container.hub()  # type: ignore[misc]
        self.gateway: Gateway = await self.container.gateway()  # type: ignore[misc]
        return self.hub

    async def watch(self, socket: MemorySocket) -> asyncio.Task[None]:
        token = self.container.tokens().issue(self.user)
        return asyncio.create_task(self.gateway.story(socket, token, str(self.story)))


def parts(broker: MemoryBroker) -> Parts:
    return Parts(broker, memory_container(broker, backoff=QUICK))


async def test_a_snapshot_read_that_fails_at_connect_is_retried() -> None:
    rig = parts(FlakySnapshots())
    await rig.broker.publish(ProgressUpdate(rig.story, StoryStatus.COMPLETE, 100, "done", datetime.now(UTC)))
    await rig.start()
    await eventually(lambda: rig.hub.ready)
    rig.broker.failures = 2  # type: ignore[attr-defined]
    socket = MemorySocket()
    session = await rig.watch(socket)
    try:
        await socket.wait_for(lambda s: len(progress(s)) == 1, timeout(2))
    finally:
        socket.leave()
        await session
        await rig.container.shutdown_resources()  # type: ignore[misc]

    assert progress(socket)[0]["status"] == "complete"


async def test_clients_that_connect_before_the_broker_is_first_up_get_their_snapshot() -> None:
    rig = parts(MemoryBroker())
    await rig.broker.publish(
        ProgressUpdate(rig.story, StoryStatus.SYNTHESIZING, 90, "mixing", datetime.now(UTC))
    )
    rig.broker.fail()
    await rig.start()
    socket = MemorySocket()
    session = await rig.watch(socket)
    try:
        await eventually(lambda: rig.hub.subscriber_count == 1)
        rig.broker.recover()
        await socket.wait_for(lambda s: len(progress(s)) == 1, timeout(3))
    finally:
        socket.leave()
        await session
        await rig.container.shutdown_resources()  # type: ignore[misc]

    assert progress(socket)[0]["progress_percent"] == 90


async def test_a_new_storys_updates_reach_the_dashboard_in_order_behind_the_owner_lookup(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig()
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await eventually(lambda: rig.hub.subscriber_count == 1)
    created = uuid.uuid4()
    rig.directory.add(created, rig.user)

    for status, percent in [
        (StoryStatus.ANALYZING, 5),
        (StoryStatus.GENERATING, 40),
        (StoryStatus.COMPLETE, 100),
    ]:
        await rig.publish(created, status, percent)
    await socket.wait_for(lambda s: any(m["status"] == "complete" for m in progress(s)), timeout(2))

    assert [m["status"] for m in progress(socket)] == ["analyzing", "generating", "complete"]
