"""A running gateway on the in-memory adapters: the unit tests play workers and browsers against it."""

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

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryMetrics, MemorySocket, MemoryStoryDirectory, MemoryTokens
from domain.access import AccessPolicy
from domain.backoff import Backoff
from domain.gateway import Gateway
from domain.progress import ProgressUpdate, StoryStatus
from domain.session import SessionLimits
from domain.subscriptions import ProgressHub
from testkit.waiting import timeout


def update(
    story_id: UUID,
    status: StoryStatus = StoryStatus.ANALYZING,
    percent: int = 10,
    seq: int | None = None,
    step: str = "working",
    at: datetime | None = None,
) -> ProgressUpdate:
    return ProgressUpdate(story_id, status, percent, step, at or datetime.now(UTC), seq)


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
        await self.hub.stop()


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig() -> AsyncIterator[MakeRig]:
    rigs: list[Rig] = []

    async def make(limits: SessionLimits | None = None, backoff: Backoff | None = None) -> Rig:
        broker, directory, tokens, metrics = (
            MemoryBroker(),
            MemoryStoryDirectory(),
            MemoryTokens(),
            MemoryMetrics(),
        )
        hub = ProgressHub(broker, directory, JsonCodec(), metrics, backoff=backoff)
        policy = AccessPolicy(tokens, directory)
        gateway = Gateway(policy, hub, metrics, limits or SessionLimits())
        rig = Rig(broker, directory, tokens, metrics, hub, gateway)
        directory.add(rig.story, rig.user)
        rigs.append(rig)
        await hub.start()
        await eventually(lambda: hub.ready)
        return rig

    yield make
    for rig in rigs:
        await rig.close()


@pytest.fixture
async def rig(make_rig: MakeRig) -> Rig:
    return await make_rig()
