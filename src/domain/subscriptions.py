"""The progress hub: one broker subscription per process, fanned out to per-subscriber outboxes.

Stories are routed to their own watchers and, through the story's owner, to that owner's
dashboards, so a story created after a dashboard connected still reaches it. Each time the
supervised listener subscribes again, every subscriber is offered the current snapshots (the
outbox keeps only newer ones).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.backoff import Backoff
from domain.directory_cache import CachingDirectory
from domain.errors import Closure, FeedUnavailable
from domain.listener import FeedListener
from domain.outbox import Offer, Outbox
from domain.owners import DashboardRouter
from domain.ports import FrameEncoder, Metrics, OwnerUpdate, ProgressFeed, StoryDirectory
from domain.progress import Frame, ProgressUpdate
from domain.resync import Resync

logger = logging.getLogger(__name__)


class ProgressHub:
    def __init__(
        self,
        feed: ProgressFeed,
        directory: StoryDirectory,
        encoder: FrameEncoder,
        metrics: Metrics,
        *,
        backoff: Backoff | None = None,
        outbox_limit: int = 1024,
    ) -> None:
        self._feed = feed
        self._encoder = encoder
        self._metrics = metrics
        self._outbox_limit = outbox_limit
        self._directory = (
            directory if isinstance(directory, CachingDirectory) else CachingDirectory(directory)
        )
        self._router = DashboardRouter(self._directory, self._deliver_to_owner)
        self._by_story: defaultdict[UUID, set[Outbox]] = defaultdict(set)
        self._by_user: defaultdict[UUID, set[Outbox]] = defaultdict(set)
        self._backoff = backoff or Backoff()
        self._listener = FeedListener(feed, metrics, self._backoff, self._on_subscribed, self._dispatch)
        self._resync = Resync(feed, self._directory, self._backoff, self._frame, self._spawn, metrics)
        self._listening: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: Closure | None = None

    @property
    def ready(self) -> bool:
        return self._listener.ready

    async def start(self) -> None:
        self._listening = asyncio.create_task(self._listener.run_forever(), name="progress-listener")

    async def stop(self) -> None:
        self.close_all(Closure.SHUTDOWN)
        tasks = [t for t in [self._listening, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close_all(self, closure: Closure) -> int:
        """End every session, and every one that starts from now on, with `closure`."""
        self._closing = closure
        outboxes = self._all_outboxes()
        for outbox in outboxes:
            outbox.close(closure)
        return len(outboxes)

    @property
    def subscriber_count(self) -> int:
        return len(self._all_outboxes())

    @asynccontextmanager
    async def watch_story(self, story_id: UUID, owner: UUID) -> AsyncIterator[Outbox]:
        """Subscribe first, then offer the snapshot, so nothing published in between is lost."""
        outbox = self._new_outbox()
        self._directory.remember(story_id, owner)
        async with self._registered(self._by_story, story_id, outbox):
            await self.offer_snapshots(outbox, [story_id])
            yield outbox

    @asynccontextmanager
    async def watch_user(self, user_id: UUID, story_ids: list[UUID]) -> AsyncIterator[Outbox]:
        outbox = self._new_outbox()
        for story_id in story_ids:
            self._directory.remember(story_id, user_id)
        async with self._registered(self._by_user, user_id, outbox):
            await self.offer_snapshots(outbox, story_ids)
            yield outbox

    async def offer_snapshots(self, outbox: Outbox, story_ids: Iterable[UUID]) -> None:
        """Offer stored snapshots; when the broker is down the resync after reconnect does it instead."""
        ids = list(story_ids)
        if not ids:
            return
        try:
            snapshots = await self._feed.snapshots(ids)
        except FeedUnavailable as exc:
            logger.warning("snapshots unavailable, a resync will send them: %s", exc)
            self._resync.request(self._by_story, self._by_user)
            return
        for update in snapshots:
            outbox.offer(self._frame(update), live=False)

    @asynccontextmanager
    async def _registered(
        self, index: defaultdict[UUID, set[Outbox]], key: UUID, outbox: Outbox
    ) -> AsyncIterator[None]:
        index[key].add(outbox)
        try:
            yield
        finally:
            index[key].discard(outbox)
            if not index[key]:
                del index[key]

    def _new_outbox(self) -> Outbox:
        outbox = Outbox(self._outbox_limit)
        if self._closing is not None:
            outbox.close(self._closing)
        return outbox

    def _all_outboxes(self) -> list[Outbox]:
        return [o for index in (self._by_story, self._by_user) for group in index.values() for o in group]

    def _frame(self, update: ProgressUpdate) -> Frame:
        return Frame(update, self._encoder.encode(update))

    def _on_subscribed(self, again: bool) -> None:
        """After a resubscription, seqs may have restarted and updates been missed: resync. So too
        after the first one, for clients that connected while the broker was not there yet."""
        if again:
            for outbox in self._all_outboxes():
                outbox.reset_order()
        if again or self._by_story or self._by_user:
            self._resync.request(self._by_story, self._by_user)

    def _dispatch(self, event: ProgressUpdate | OwnerUpdate) -> None:
        if isinstance(event, OwnerUpdate):
            self._offer_all(self._by_user.get(event.owner, ()), self._frame(event.update))
            return
        update = event
        self._metrics.update_received((datetime.now(UTC) - update.updated_at).total_seconds())
        watchers = self._by_story.get(update.story_id, ())
        if not watchers and not self._by_user:
            return
        frame = self._frame(update)
        self._offer_all(watchers, frame)
        if self._by_user:
            self._router.route(frame, self._spawn)

    def _deliver_to_owner(self, owner: UUID, frame: Frame) -> None:
        self._offer_all(self._by_user.get(owner, ()), frame)

    def _offer_all(self, outboxes: Iterable[Outbox], frame: Frame) -> None:
        merged = sum(1 for outbox in outboxes if outbox.offer(frame) is Offer.MERGED)
        if merged:
            self._metrics.updates_merged(merged)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, context=contextvars.Context())  # not tied to one connection
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task


def _log_failure(task: asyncio.Task[None]) -> None:
    """A background task must never fail silently."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("background task %s failed", task.get_name(), exc_info=error)
