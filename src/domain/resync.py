"""Resync: offer every subscriber the stored snapshots it may have missed.

Runs after the broker subscription is (re)established and whenever a snapshot could not be read
for a new subscriber. Retried with backoff until it succeeds, since nothing else would bring back
an update lost meanwhile; one pass at a time, and a request during a pass asks for one more.
Each snapshot is read once and encoded once, however many subscribers want it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any
from uuid import UUID

from domain.backoff import Backoff
from domain.errors import DirectoryUnavailable, FeedUnavailable
from domain.outbox import Outbox
from domain.ports import Metrics, ProgressFeed, StoryDirectory
from domain.progress import Frame, ProgressUpdate

logger = logging.getLogger(__name__)

Index = Mapping[UUID, set[Outbox]]


class Resync:
    def __init__(
        self,
        feed: ProgressFeed,
        directory: StoryDirectory,
        backoff: Backoff,
        frame: Callable[[ProgressUpdate], Frame],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        metrics: Metrics,
    ) -> None:
        self._feed = feed
        self._directory = directory
        self._backoff = backoff
        self._frame = frame
        self._spawn = spawn
        self._metrics = metrics
        self._running: asyncio.Task[None] | None = None
        self._wanted = False

    def request(self, by_story: Index, by_user: Index) -> None:
        self._wanted = True
        if self._running is None or self._running.done():
            self._running = self._spawn(self._run(by_story, by_user))

    async def _run(self, by_story: Index, by_user: Index) -> None:
        attempt = 0
        while self._wanted:
            self._wanted = False
            try:
                await self._offer(by_story, {story_id: [story_id] for story_id in list(by_story)})
                await self._offer(
                    by_user, {user: await self._directory.stories_of(user) for user in list(by_user)}
                )
                self._metrics.snapshots_resynced()
                attempt = 0
                continue
            except (FeedUnavailable, DirectoryUnavailable) as exc:
                logger.warning("resync failed, retrying: %s", exc)
                self._wanted = True
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _offer(self, index: Index, wanted: dict[UUID, list[UUID]]) -> None:
        frames = {u.story_id: self._frame(u) for u in await self._feed.snapshots(_union(wanted.values()))}
        for key, story_ids in wanted.items():
            for outbox in list(index.get(key, ())):
                for story_id in story_ids:
                    if (frame := frames.get(story_id)) is not None:
                        outbox.offer(frame, live=False)


def _union(groups: Iterable[list[UUID]]) -> list[UUID]:
    return list(dict.fromkeys(story_id for group in groups for story_id in group))
