"""The progress hub: one broker subscription per process, fanned out to its subscribers' outboxes.

Each update is encoded once and offered to every outbox that wants it, in one pass: an outbox
whose socket keeps up writes it at once (see `Outbox`). Stories reach their own watchers and,
through the story's owner, that owner's dashboards, so a story created after a dashboard
connected still reaches it; in cluster mode the owner's channel brings those instead, and only
the topics this process's clients watch are subscribed. Each time the supervised listener
subscribes again, every subscriber is offered the current snapshots (the outbox keeps only
newer ones). Ownership is checked again while connections are open (see `OwnershipChecks`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from domain.access.directory_cache import CachingDirectory
from domain.aio.backoff import Backoff
from domain.aio.tasks import BackgroundTasks
from domain.connection.outbox import Offer, Outbox
from domain.errors import AccessDenied, Closure, FeedUnavailable
from domain.hub.dashboard_routing import DashboardRouter
from domain.hub.listener import FeedListener
from domain.hub.ownership import OwnershipChecks
from domain.hub.resync import Resync
from domain.hub.snapshots import LATEST_FRAMES, LatestFrames, SnapshotReader
from domain.hub.subscribers import Subscribers, fan_out
from domain.hub.topics import TopicSubscriptions
from domain.ports import FrameEncoder, Metrics, ProgressFeed
from domain.progress import Frame, ProgressUpdate
from domain.values import OwnerUpdate, Revoked, Topic

logger = logging.getLogger(__name__)

ENDPOINTS = {"story": "story", "user": "dashboard"}


class ProgressHub:
    def __init__(
        self,
        feed: ProgressFeed,
        directory: CachingDirectory,
        encoder: FrameEncoder,
        metrics: Metrics,
        subscribers: Subscribers,
        *,
        backoff: Backoff | None = None,
        topic_linger: float = 30.0,
        latest_frames: int = LATEST_FRAMES,
    ) -> None:
        self._feed = feed
        self._directory = directory
        self._encoder = encoder
        self._metrics = metrics
        self._subscribers = subscribers
        self._tasks = BackgroundTasks()
        self._snapshots = SnapshotReader(feed)
        self._frames = LatestFrames(encoder, latest_frames)
        self._topics = TopicSubscriptions(feed, topic_linger)
        backoff = backoff or Backoff()
        self._router = DashboardRouter(directory, self._deliver_to_owner)
        self._listener = FeedListener(feed, metrics, backoff, self._on_subscribed, self._dispatch)
        self._resync = Resync(self._snapshots, directory, subscribers, encoder, metrics, backoff, self._tasks)
        self._ownership = OwnershipChecks(directory, subscribers, self.offer_snapshots, self._tasks)
        directory.watch_changes(self._ownership.changed)
        self._listening: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._listener.ready

    async def start(self) -> None:
        self._listening = self._tasks.spawn(self._listener.run_forever(), name="progress-listener")
        self._tasks.spawn(self._ownership.run_forever(), name="ownership-checks")

    async def stop(self) -> None:
        self._subscribers.close_all(Closure.SHUTDOWN)
        await self._tasks.cancel_all()

    def close_all(self, closure: Closure) -> int:
        """End every session, and every one that starts from now on, with `closure`."""
        return self._subscribers.close_all(closure)

    def close_some(self, count: int, closure: Closure) -> int:
        """End `count` sessions (any of them) with `closure`; returns how many."""
        outboxes = self._subscribers.all()[:count]
        for outbox in outboxes:
            outbox.close(closure)
        return len(outboxes)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def latest_frames(self) -> int:
        """Snapshot frames kept for sharing between connects (bounded: see `LatestFrames`)."""
        return len(self._frames)

    def watch_story(self, outbox: Outbox, story_id: UUID, owner: UUID) -> Watch:
        """Subscribe first, then offer the snapshot, so nothing published in between is lost."""
        return Watch(self, outbox, "story", story_id, (story_id,), owner)

    def watch_user(self, outbox: Outbox, user_id: UUID, story_ids: Sequence[UUID]) -> Watch:
        return Watch(self, outbox, "user", user_id, story_ids, user_id)

    async def _enter(self, watch: Watch) -> None:
        if watch.kind == "story":
            if self._directory.last_owner(watch.key) not in (None, watch.owner):
                raise AccessDenied(Closure.FORBIDDEN, "story moved to another user")  # while connecting
            self._subscribers.story_owners[watch.key] = watch.owner
        index = self._subscribers.by_story if watch.kind == "story" else self._subscribers.by_user
        self._subscribers.add(index, watch.key, watch.outbox)
        topic = Topic(watch.kind, watch.key)
        try:
            await self._topics.acquire(topic)
            await self.offer_snapshots(watch.outbox, watch.story_ids, ENDPOINTS[watch.kind])
        except BaseException:
            self._leave(watch)
            raise

    def _leave(self, watch: Watch) -> None:
        index = self._subscribers.by_story if watch.kind == "story" else self._subscribers.by_user
        self._subscribers.remove(index, watch.key, watch.outbox)
        if watch.kind == "story" and watch.key not in index:
            self._subscribers.story_owners.pop(watch.key, None)
        self._topics.release(Topic(watch.kind, watch.key))

    async def offer_snapshots(self, outbox: Outbox, story_ids: Iterable[UUID], endpoint: str) -> None:
        """Offer stored snapshots; when the broker is down the resync after reconnect does it instead.
        (Snapshots count as sent, but not in the write lag: that is for live updates.)"""
        try:
            snapshots = await self._snapshots.read(list(story_ids))
        except FeedUnavailable as exc:
            logger.warning("snapshots unavailable, a resync will send them: %s", exc)
            self._resync.request()
            return
        frames = self._frames
        sent = sum(outbox.offer(frames.frame_of(update), live=False) is Offer.SENT for update in snapshots)
        if sent:
            self._metrics.sent(endpoint, sent)

    async def refresh(self, outbox: Outbox, story_ids: Sequence[UUID], endpoint: str) -> None:
        """`status`: one message per story with state, the stored snapshot where it is newer than
        what the outbox holds (a store written without a publish). No directory query."""
        try:
            snapshots = await self._snapshots.read(story_ids)
        except FeedUnavailable as exc:
            logger.warning("snapshots unavailable, status answers with what is held: %s", exc)
            snapshots = []
        outbox.resend_latest([self._frames.frame_of(update) for update in snapshots])

    async def end_of(self, story_id: UUID) -> int | None:
        """The `seq` of the story's stored snapshot if that is its end (`complete` or `failed`);
        None if it has not ended, or cannot be read now (the stream is then served as usual)."""
        try:
            snapshots = await self._snapshots.read([story_id])
        except FeedUnavailable:
            return None
        if snapshots and snapshots[0].status.terminal:
            return snapshots[0].seq
        return None

    def _frame(self, update: ProgressUpdate) -> Frame:
        return Frame(update, self._encoder.encode_bytes(update))

    def _on_subscribed(self, again: bool) -> None:
        """After a resubscription, seqs may have restarted and updates been missed: resync. So too
        after the first one, for clients that connected while the broker was not there yet."""
        if again:
            self._subscribers.reset_order()
        if again or len(self._subscribers):
            self._resync.request()

    def _dispatch(self, event: ProgressUpdate | OwnerUpdate | Revoked) -> None:
        by_story, by_user = self._subscribers.by_story, self._subscribers.by_user
        if isinstance(event, Revoked):
            self._ownership.revoked(event.story_id)
            return
        if isinstance(event, OwnerUpdate):  # delivered where the directory agrees on the owner
            if event.owner in by_user:
                self._router.route(self._frame(event.update), self._tasks.spawn, event.owner)
            return
        self._metrics.update_received((datetime.now(UTC) - event.updated_at).total_seconds())
        watchers = by_story.get(event.story_id)
        route = bool(by_user) and not self._feed.per_topic
        if not watchers and not route:
            return
        frame = self._frame(event)
        if watchers:
            self._frames.store(frame)  # the next connect's snapshot, most likely
            self._fan_out(watchers, frame, "story")
        if route:
            self._router.route(frame, self._tasks.spawn)

    def _deliver_to_owner(self, owner: UUID, frame: Frame) -> None:
        if dashboards := self._subscribers.by_user.get(owner):
            self._fan_out(dashboards, frame, "dashboard")

    def _fan_out(self, outboxes: Iterable[Outbox], frame: Frame, endpoint: str) -> None:
        sent, merged = fan_out(outboxes, frame)
        if sent:
            self._metrics.sent(endpoint, sent)
            self._metrics.written(frame.lag())
        if merged:
            self._metrics.updates_merged(merged)


class Watch:
    """One connection's subscription, as an async context manager: a small object, not a generator."""

    __slots__ = ("hub", "key", "kind", "outbox", "owner", "story_ids")

    def __init__(
        self,
        hub: ProgressHub,
        outbox: Outbox,
        kind: Literal["story", "user"],
        key: UUID,
        story_ids: Sequence[UUID],
        owner: UUID,
    ) -> None:
        self.hub, self.outbox, self.kind, self.key, self.story_ids = hub, outbox, kind, key, story_ids
        self.owner = owner

    async def __aenter__(self) -> None:
        await self.hub._enter(self)

    async def __aexit__(self, *exc: object) -> None:
        self.hub._leave(self)
