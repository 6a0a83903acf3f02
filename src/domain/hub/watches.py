"""Each connection's subscription: entered before its snapshot is offered, left when it ends.

Subscribe first, then offer the snapshot, so nothing published in between is lost: the outbox
joins its index, its topic is acquired (a topic feed confirms it), then the stored snapshots are
offered; when the broker cannot give them, a resync does later. A story whose owner changed
while connecting is refused with 4003.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from domain.access.directory_cache import CachingDirectory
from domain.connection.outbox import Outbox
from domain.errors import AccessDenied, Closure, FeedUnavailable
from domain.hub.offers import SnapshotOffers
from domain.hub.reach import Reach
from domain.hub.resync import Resync
from domain.hub.subscribers import Index, Subscribers
from domain.values import Topic

logger = logging.getLogger(__name__)

ENDPOINTS = {"story": "story", "user": "dashboard"}


class Watches:
    def __init__(
        self,
        subscribers: Subscribers,
        reach: Reach,
        directory: CachingDirectory,
        offers: SnapshotOffers,
        resync: Resync,
    ) -> None:
        self._subscribers = subscribers
        self._reach = reach
        self._directory = directory
        self._offers = offers
        self._resync = resync

    def story(self, outbox: Outbox, story_id: UUID, owner: UUID) -> Watch:
        return Watch(self, outbox, Topic("story", story_id), (story_id,), owner)

    def user(self, outbox: Outbox, user_id: UUID, story_ids: Sequence[UUID]) -> Watch:
        return Watch(self, outbox, Topic("user", user_id), story_ids, user_id)

    async def enter(self, watch: Watch) -> None:
        topic = watch.topic
        if topic.kind == "story":
            if self._directory.last_owner(topic.id) not in (None, watch.owner):
                raise AccessDenied(Closure.FORBIDDEN, "story moved to another user")  # while connecting
            self._subscribers.story_owners[topic.id] = watch.owner
        self._subscribers.add(self._index(topic), topic.id, watch.outbox)
        try:
            await self._reach.acquire(topic)
            await self._offers.offer(watch.outbox, watch.story_ids, watch.endpoint)
        except FeedUnavailable as exc:
            logger.warning("snapshots unavailable, a resync will send them: %s", exc)
            self._resync.request()
        except BaseException:
            self.leave(watch)
            raise

    def leave(self, watch: Watch) -> None:
        topic = watch.topic
        index = self._index(topic)
        self._subscribers.remove(index, topic.id, watch.outbox)
        if topic.kind == "story" and topic.id not in index:
            self._subscribers.story_owners.pop(topic.id, None)
        self._reach.release(topic)

    async def end_of(self, story_id: UUID) -> int | None:
        return await self._offers.end_of(story_id)

    async def refresh(self, watch: Watch) -> None:
        """`status`: the story's state, or that of every story the dashboard holds."""
        held = [watch.topic.id] if watch.topic.kind == "story" else watch.outbox.held_stories()
        await self._offers.refresh(watch.outbox, held)

    def _index(self, topic: Topic) -> Index:
        return self._subscribers.by_story if topic.kind == "story" else self._subscribers.by_user


class Watch:
    """One connection's subscription, as an async context manager: a small object, not a generator."""

    __slots__ = ("outbox", "owner", "story_ids", "topic", "watches")

    def __init__(
        self, watches: Watches, outbox: Outbox, topic: Topic, story_ids: Sequence[UUID], owner: UUID
    ) -> None:
        self.watches = watches
        self.outbox = outbox
        self.topic = topic
        self.story_ids = story_ids
        self.owner = owner

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.topic.kind]

    @property
    def story_id(self) -> UUID | None:
        return self.topic.id if self.topic.kind == "story" else None

    async def refresh(self) -> None:
        await self.watches.refresh(self)

    async def __aenter__(self) -> None:
        await self.watches.enter(self)

    async def __aexit__(self, *exc: object) -> None:
        self.watches.leave(self)
