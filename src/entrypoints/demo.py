"""The demo's simulated worker: stories walk analyzing → generating → synthesizing → complete.

It reports through the worker SDK, as a real worker does, over `BrokerBackend`: the SDK's backend
seam plugged into the in-memory broker and worker signals, so the demo needs no Redis. One
featured story (the page's single bar) completes; new stories keep appearing for the dashboard as
long as the demo runs, every third of them ending in `failed`. Some go quiet mid-story (no update,
no heartbeat) for longer than the gateway's `STALLED_AFTER_SECONDS`: every fourth resumes, every
eighth never does. Each honours a cancel from the page: it ends `failed`, `Cancelled by the user`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryStoryDirectory, MemoryWorkerSignals
from codestory_progress_worker.aio import ProgressReporter, Receipt, StoryProgress

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
QUIET_AFTER = "Writing chapter 2"  # where a quiet story stops reporting


class Quiet(enum.Enum):
    NEVER = "never"
    RESUMES = "resumes"  # silent for `quiet_seconds`, then goes on
    FOREVER = "forever"  # silent until cancelled: a worker that hung


def quiet_for(number: int) -> Quiet:
    """Every eighth new story hangs, every other fourth one pauses (the featured story never)."""
    if number % 8 == 6:
        return Quiet.FOREVER
    return Quiet.RESUMES if number % 4 == 2 else Quiet.NEVER


class BrokerBackend:
    """The SDK's `AsyncBackend` over the gateway's in-memory broker: the same seq, snapshot and
    channel semantics as the Redis script, in process; heartbeats into the memory worker signals,
    and each publish or heartbeat tells whether a cancel was recorded, as the Redis scripts do."""

    requires_owner = False

    def __init__(
        self, broker: MemoryBroker, codec: JsonCodec, signals: MemoryWorkerSignals | None = None
    ) -> None:
        self._broker = broker
        self._codec = codec
        self._signals = signals or MemoryWorkerSignals()
        self.withheld: set[UUID] = set()  # quiet stories: no heartbeat (bound: the stories walking)

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        sent = await self._broker.publish(self._codec.decode(body), owner)
        if sent.seq is None:
            raise RuntimeError("the memory broker publishes every update with a seq")
        return Receipt(sent.seq, story_id in self._signals.cancels)

    async def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        """A quiet story's worker beats no more, and hears nothing."""
        if story_id in self.withheld:
            return False
        self._signals.heartbeat(story_id, int(time.time() * 1000))
        return story_id in self._signals.cancels

    async def revoke(self, story_id: UUID) -> int:
        """Nobody listens: the demo's stories never change owners."""
        return 0

    async def aclose(self) -> None:
        """Nothing to close: the broker belongs to the container."""


class DemoWorker:
    def __init__(  # noqa: PLR0913 (the demo's knobs)
        self,
        reporter: ProgressReporter,
        backend: BrokerBackend,
        signals: MemoryWorkerSignals,
        directory: MemoryStoryDirectory,
        *,
        user_id: UUID,
        featured: UUID,
        step_seconds: float = 0.6,
        quiet_seconds: float = 12.0,
    ) -> None:
        self._reporter = reporter
        self._backend = backend
        self._signals = signals
        self._directory = directory
        self._user_id = user_id
        self._featured = featured
        self._step = step_seconds
        self._quiet = quiet_seconds
        self._woken: dict[UUID, asyncio.Event] = {}  # quiet stories a cancel wakes (bound: walking)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._signals.on_cancel(self._wake)
        task = asyncio.create_task(self._run(), name="demo-worker")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _wake(self, story_id: UUID) -> None:
        if (event := self._woken.get(story_id)) is not None:
            event.set()

    async def _run(self) -> None:
        self._directory.add(self._featured, self._user_id)
        walks = {asyncio.create_task(self._walk(self._featured, fail=False, quiet=Quiet.NEVER))}
        try:
            for number in itertools.count(1):
                await asyncio.sleep(self._step * 4)
                story_id = uuid.uuid4()
                self._directory.add(story_id, self._user_id)
                walk = asyncio.create_task(
                    self._walk(story_id, fail=number % 3 == 0, quiet=quiet_for(number))
                )
                walks.add(walk)
                walk.add_done_callback(walks.discard)
        finally:
            for walk in walks:
                walk.cancel()

    async def _walk(self, story_id: UUID, *, fail: bool, quiet: Quiet) -> None:
        try:
            async with self._reporter.story(story_id, owner=self._user_id) as story:
                for status, percent, step in SCRIPT:
                    if fail and status == "synthesizing":
                        await story.update("failed", percent, "The narrator lost their voice")
                        return
                    if quiet is not Quiet.NEVER and step == QUIET_AFTER:
                        await self._silent(story, quiet)
                    await story.update(status, percent, step)
                    await asyncio.sleep(self._step)
        finally:
            self._signals.expire(story_id)  # as the liveness key's TTL would

    async def _silent(self, story: StoryProgress, quiet: Quiet) -> None:
        """No update and no heartbeat, for `quiet_seconds` or (FOREVER) until a cancel wakes it."""
        self._backend.withheld.add(story.story_id)
        woken = self._woken[story.story_id] = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), None if quiet is Quiet.FOREVER else self._quiet)
        finally:
            self._backend.withheld.discard(story.story_id)
            del self._woken[story.story_id]
