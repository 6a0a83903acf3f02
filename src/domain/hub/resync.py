"""Resync: offer every subscriber the stored snapshots it may have missed.

Runs after the broker subscription is (re)established and whenever a snapshot could not be read
for a new subscriber. Retried with backoff until it succeeds, since nothing else would bring back
an update lost meanwhile; one pass at a time, and a request during a pass asks for one more.
Each snapshot is read once and encoded once, however many subscribers want it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from uuid import UUID

from domain.aio.backoff import Backoff
from domain.aio.tasks import BackgroundTasks
from domain.connection.outbox import Offer
from domain.errors import DirectoryUnavailable, FeedUnavailable
from domain.hub.snapshots import SnapshotReader
from domain.hub.subscribers import Index, Subscribers
from domain.ports import FrameEncoder, Metrics, StoryDirectory
from domain.progress import Frame

logger = logging.getLogger(__name__)


class Resync:
    def __init__(
        self,
        snapshots: SnapshotReader,
        directory: StoryDirectory,
        subscribers: Subscribers,
        encoder: FrameEncoder,
        metrics: Metrics,
        backoff: Backoff,
        tasks: BackgroundTasks,
    ) -> None:
        self._snapshots = snapshots
        self._directory = directory
        self._subscribers = subscribers
        self._encoder = encoder
        self._metrics = metrics
        self._backoff = backoff
        self._tasks = tasks
        self._running: asyncio.Task[None] | None = None
        self._wanted = False

    def request(self) -> None:
        self._wanted = True
        if self._running is None or self._running.done():
            self._running = self._tasks.spawn(self._run(), name="resync")

    async def _run(self) -> None:
        attempt = 0
        while self._wanted:
            self._wanted = False
            try:
                by_story, by_user = self._subscribers.by_story, self._subscribers.by_user
                await self._offer(by_story, {story_id: (story_id,) for story_id in list(by_story)}, "story")
                stories = {user: await self._directory.stories_of(user) for user in list(by_user)}
                await self._offer(by_user, stories, "dashboard")
                self._metrics.snapshots_resynced()
                attempt = 0
                continue
            except (FeedUnavailable, DirectoryUnavailable) as exc:
                logger.warning("resync failed, retrying: %s", exc)
                self._wanted = True
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _offer(self, index: Index, wanted: dict[UUID, Sequence[UUID]], endpoint: str) -> None:
        updates = await self._snapshots.read(_union(wanted.values()))
        frames = {u.story_id: Frame(u, self._encoder.encode_bytes(u)) for u in updates}
        sent = 0
        for key, story_ids in wanted.items():
            for outbox in list(index.get(key, ())):
                for story_id in story_ids:
                    if (frame := frames.get(story_id)) is not None:
                        sent += outbox.offer(frame, live=False) is Offer.SENT
        if sent:
            self._metrics.sent(endpoint, sent)


def _union(groups: Iterable[Sequence[UUID]]) -> list[UUID]:
    return list(dict.fromkeys(story_id for group in groups for story_id in group))
