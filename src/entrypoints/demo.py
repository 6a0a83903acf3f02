"""The demo's simulated worker: stories walk analyzing → generating → synthesizing → complete.

One featured story (the page's single bar) completes; new stories keep appearing for the
dashboard as long as the demo runs, every third of them ending in `failed`.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

from adapters.memory import MemoryStoryDirectory
from domain.ports import ProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus

S = StoryStatus
SCRIPT: list[tuple[StoryStatus, int, str]] = [
    (S.ANALYZING, 5, "Cloning the repository"),
    (S.ANALYZING, 15, "Reading the code"),
    (S.ANALYZING, 25, "Finding the main characters"),
    (S.GENERATING, 35, "Writing chapter 1"),
    (S.GENERATING, 45, "Writing chapter 2"),
    (S.GENERATING, 55, "Writing chapter 3"),
    (S.SYNTHESIZING, 70, "Recording the narration"),
    (S.SYNTHESIZING, 85, "Mixing the audio"),
    (S.COMPLETE, 100, "Your story is ready"),
]


class DemoWorker:
    def __init__(
        self,
        publisher: ProgressPublisher,
        directory: MemoryStoryDirectory,
        user_id: UUID,
        featured: UUID,
        step_seconds: float = 0.6,
    ) -> None:
        self._publisher = publisher
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
        for status, percent, step in SCRIPT:
            if fail and status is S.SYNTHESIZING:
                await self._publish(story_id, S.FAILED, percent, "The narrator lost their voice")
                return
            await self._publish(story_id, status, percent, step)
            await asyncio.sleep(self._step)

    async def _publish(self, story_id: UUID, status: StoryStatus, percent: int, step: str) -> None:
        await self._publisher.publish(ProgressUpdate(story_id, status, percent, step, datetime.now(UTC)))
