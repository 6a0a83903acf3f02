"""A running gateway on the in-memory adapters: the unit tests play workers and browsers against it;
and the fake's side of the progress contracts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from dependency_injector import providers

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryMetrics, MemorySocket, MemoryStoryDirectory, MemoryTokens
from domain.aio.backoff import Backoff
from domain.connection.outbox import Outbox
from domain.connection.session import SessionLimits
from domain.gateway import Gateway
from domain.hub.hub import ProgressHub
from domain.progress import Frame, ProgressUpdate, StoryStatus
from entrypoints.container import Container
from entrypoints.settings import RedisMode, Settings
from testkit.waiting import timeout
from tests.contracts.progress import ProgressPorts


def update(
    story_id: UUID,
    status: StoryStatus = StoryStatus.ANALYZING,
    percent: int = 10,
    seq: int | None = None,
    step: str = "working",
    at: datetime | None = None,
) -> ProgressUpdate:
    return ProgressUpdate(story_id, status, percent, step, at or datetime.now(UTC), seq)


S = StoryStatus
_CODEC = JsonCodec()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def frame(story: UUID, status: StoryStatus, percent: int, seq: int | None, at: datetime = T0) -> Frame:
    progress = update(story, status, percent, seq=seq, at=at)
    return Frame(progress, _CODEC.encode_bytes(progress))


def drain(outbox: Outbox) -> list[Any]:
    """Everything a sender would write now, progress decoded, control text as is."""
    received: list[Any] = []
    while (entry := outbox.pop()) is not None:
        received.append(json.loads(entry.text) if isinstance(entry, Frame) else entry)
        outbox.done()
    return received


def seen(outbox: Outbox) -> list[tuple[str, int, int | None]]:
    return [(m["status"], m["progress_percent"], m.get("seq")) for m in drain(outbox)]


def progress(socket: MemorySocket) -> list[dict[str, Any]]:
    """The progress messages a client received, decoded; control texts (`ping`, `pong`…) left out."""
    return [json.loads(text) for text in socket.sent if text.startswith("{")]


async def eventually(check: Callable[[], bool], seconds: float = 2.0) -> None:
    """Until `check()` holds (re-checked each loop turn), or fail after the scaled timeout."""
    async with asyncio.timeout(timeout(seconds)):
        while not check():  # noqa: ASYNC110 (hub.ready and the counters are flags, with no event to await)
            await asyncio.sleep(0.005)


@dataclass
class Rig:
    """One gateway over the fakes, with a user who owns `story`."""

    broker: MemoryBroker
    directory: MemoryStoryDirectory
    tokens: MemoryTokens
    metrics: MemoryMetrics
    hub: ProgressHub
    gateway: Gateway
    container: Container  # kept: a container collected early would finalize (stop) the hub it runs
    user: UUID = field(default_factory=uuid.uuid4)
    story: UUID = field(default_factory=uuid.uuid4)
    sessions: list[tuple[MemorySocket, asyncio.Task[None]]] = field(default_factory=list)

    def open_story(self, story_id: UUID | None = None, token: str | None = None) -> MemorySocket:
        socket = MemorySocket()
        token = token if token is not None else self.tokens.issue(self.user)
        raw = str(story_id or self.story)
        self.sessions.append((socket, asyncio.create_task(self.gateway.story(socket, token, raw))))
        return socket

    def open_dashboard(self, token: str) -> MemorySocket:
        socket = MemorySocket()
        self.sessions.append((socket, asyncio.create_task(self.gateway.dashboard(socket, token))))
        return socket

    async def publish(
        self, story_id: UUID | None = None, status: StoryStatus = StoryStatus.ANALYZING, percent: int = 10
    ) -> ProgressUpdate:
        return await self.broker.publish(update(story_id or self.story, status, percent))

    async def ended(self, socket: MemorySocket) -> None:
        """Until the gateway has finished serving `socket`."""
        task = next(task for sock, task in self.sessions if sock is socket)
        async with asyncio.timeout(timeout(2)):
            await asyncio.shield(task)

    async def close(self) -> None:
        for socket, task in self.sessions:
            if not task.done():
                socket.resume()
                socket.leave()
        async with asyncio.timeout(timeout(5)):
            await asyncio.gather(*(task for _, task in self.sessions), return_exceptions=True)
        await self.container.shutdown_resources()  # type: ignore[misc]


MakeRig = Callable[..., Awaitable[Rig]]


def memory_container(
    broker: MemoryBroker | None = None,
    limits: SessionLimits | None = None,
    backoff: Backoff | None = None,
    ownership_ttl: float = 60.0,
    redis_mode: RedisMode = "standalone",
) -> Container:
    """The app's own wiring (the container) on the in-memory adapters, with test doubles where
    the tests play a part: opaque tokens, countable metrics, a broker that can be broken. In
    `redis_mode` "cluster" the fake plays the cluster's feed (a `TopicFeed`)."""
    settings = Settings(
        jwt_key="unit-test-key-" + "x" * 32,
        backend="memory",
        ownership_ttl_seconds=ownership_ttl,
        redis_mode=redis_mode,
    )
    container = Container(settings=settings)
    if broker is not None:
        container.memory_broker.override(providers.Object(broker))
    container.tokens.override(providers.Object(MemoryTokens()))
    container.metrics.override(providers.Object(MemoryMetrics()))
    if limits is not None:
        container.limits.override(providers.Object(limits))
    if backoff is not None:
        container.backoff.override(providers.Object(backoff))
    return container


async def started(container: Container) -> tuple[ProgressHub, Gateway]:
    """The hub running (its listener subscribed) and the gateway over it."""
    hub: ProgressHub = await container.hub()  # type: ignore[misc]
    gateway: Gateway = await container.gateway()  # type: ignore[misc]
    await eventually(lambda: hub.ready)
    return hub, gateway


async def rig_on(container: Container) -> Rig:
    """A rig over the container's gateway, started, with the rig's user owning its story."""
    hub, gateway = await started(container)
    rig = Rig(
        container.memory_broker(),
        container.directory(),
        container.tokens(),
        container.metrics(),
        hub,
        gateway,
        container,
    )
    rig.directory.add(rig.story, rig.user)
    return rig


@pytest.fixture
async def make_rig() -> AsyncIterator[MakeRig]:
    rigs: list[Rig] = []

    async def make(
        limits: SessionLimits | None = None,
        backoff: Backoff | None = None,
        broker: MemoryBroker | None = None,
        ownership_ttl: float = 60.0,
        redis_mode: RedisMode = "standalone",
    ) -> Rig:
        rig = await rig_on(memory_container(broker, limits, backoff, ownership_ttl, redis_mode))
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.close()


@pytest.fixture
async def rig(make_rig: MakeRig) -> Rig:
    return await make_rig()


class MemoryRawChannel:
    """A foreign publisher on the fake: anything on a story's channel, or on `revocations`."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    def channel(self, story_id: UUID) -> str:
        return f"story:{story_id}"

    async def send(self, story_id: UUID, data: bytes) -> None:
        self._broker.publish_raw(self.channel(story_id), data)

    async def revoke(self, data: bytes) -> None:
        self._broker.publish_raw("revocations", data)


@pytest.fixture(params=[False, True], ids=["standalone", "per-topic"])
def progress_ports(request: pytest.FixtureRequest) -> ProgressPorts:
    """The fake both ways: as the standalone feed, and playing the cluster feed (`per_topic`)."""
    broker = MemoryBroker(per_topic=request.param)
    return ProgressPorts(feed=broker, publisher=broker, raw=MemoryRawChannel(broker), topics=broker)
