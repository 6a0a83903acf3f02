"""The demo's simulated worker: stories walk analyzing → generating → synthesizing → complete.

It reports through the worker SDK, as a real worker does, over `BrokerBackend`: the SDK's backend
seam plugged into the in-memory broker, so the demo needs no Redis. One featured story (the
page's single bar) completes; new stories keep appearing for the dashboard as long as the demo
runs, every third of them ending in `failed`.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryStoryDirectory
from codestory_progress_worker.aio import ProgressReporter, Receipt

SCRIPT: list[tuple[str, int, str]] = [
    ("analyzing", 5, "Cloning the repository"),
    ("analyzing", 15, "Reading the code"),
    ("analyzing", 25, "Finding the main characters"),
    ("generating", 35, "Writing chapter 1"),
    ("generating", 45, "Writing chapter 2"),
    ("generating", 55, "Writing chapter 3"),
    ("synthesizing", 70, "Recording the narration"),
    ("synthesizing", 85, "Mixing the audio"),
    ("complete", 100, "Your story is ready"),
]


class BrokerBackend:
    """The SDK's `AsyncBackend` over the gateway's in-memory broker: the same seq, snapshot and
    channel semantics as the Redis script, in process."""

    requires_owner = False

    def __init__(self, broker: MemoryBroker, codec: JsonCodec) -> None:
        self._broker = broker
        self._codec = codec

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        sent = await self._broker.publish(self._codec.decode(body), owner)
        if sent.seq is None:
            raise RuntimeError("the memory broker publishes every update with a seq")
        return Receipt(sent.seq)

    async def revoke(self, story_id: UUID) -> int:
        """Nobody listens: the demo's stories never change owners."""
        return 0

    async def aclose(self) -> None:
        """Nothing to close: the broker belongs to the container."""


class DemoWorker:
    def __init__(
        self,
        reporter: ProgressReporter,
        directory: MemoryStoryDirectory,
        user_id: UUID,
        featured: UUID,
        step_seconds: float = 0.6,
    ) -> None:
        self._reporter = reporter
        self._directory = directory
        self._user_id = user_id
        self._featured = featured
        self._step = step_seconds

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._run(), name="demo-worker")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        self._directory.add(self._featured, self._user_id)
        walks = {asyncio.create_task(self._walk(self._featured, fail=False))}
        try:
            for number in itertools.count(1):
                await asyncio.sleep(self._step * 4)
                story_id = uuid.uuid4()
                self._directory.add(story_id, self._user_id)
                walk = asyncio.create_task(self._walk(story_id, fail=number % 3 == 0))
                walks.add(walk)
                walk.add_done_callback(walks.discard)
        finally:
            for walk in walks:
                walk.cancel()

    async def _walk(self, story_id: UUID, *, fail: bool) -> None:
        async with self._reporter.story(story_id, owner=self._user_id) as story:
            for status, percent, step in SCRIPT:
                if fail and status == "synthesizing":
                    await story.update("failed", percent, "The narrator lost their voice")
                    return
                await story.update(status, percent, step)
                await asyncio.sleep(self._step)
