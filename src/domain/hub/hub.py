"""The progress hub: one broker subscription per process, fanned out to its subscribers' outboxes.

The hub is the face its users see (the gateway, readiness, the entrypoints): it starts and stops
the background work, and opens each connection's subscription. What it is made of is built in
the container, each part given what it needs: the supervised listener (`FeedListener`) hands what
the feed brings to the live delivery (`Delivery`); `Watches` subscribes connections and offers
their snapshots; `Resync` offers every subscriber the stored snapshots again after each new
subscription; `OwnershipChecks` keeps ownership true while connections are open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from uuid import UUID

from domain.aio.tasks import BackgroundTasks
from domain.connection.outbox import Outbox
from domain.errors import Closure
from domain.hub.listener import FeedListener
from domain.hub.subscribers import Subscribers
from domain.hub.watches import Watch, Watches


class Background(Protocol):
    async def run_forever(self) -> None:
        """Work that lasts as long as the hub (the ownership checks, the resync), by name."""
        ...


class ProgressHub:
    def __init__(
        self,
        listener: FeedListener,
        watches: Watches,
        subscribers: Subscribers,
        background: Mapping[str, Background],
        tasks: BackgroundTasks,
    ) -> None:
        self._listener = listener
        self._watches = watches
        self._subscribers = subscribers
        self._background = background
        self._tasks = tasks

    @property
    def ready(self) -> bool:
        """The broker subscription is confirmed (what `/readyz` reports)."""
        return self._listener.ready

    async def start(self) -> None:
        self._tasks.spawn(self._listener.run_forever(), name="progress-listener")
        for name, work in self._background.items():
            self._tasks.spawn(work.run_forever(), name=name)

    async def stop(self) -> None:
        self._subscribers.close_all(Closure.SHUTDOWN)
        await self._tasks.cancel_all()

    def close_all(self, closure: Closure) -> int:
        """End every session, and every one that starts from now on, with `closure`."""
        return self._subscribers.close_all(closure)

    def close_some(self, count: int, closure: Closure) -> int:
        """End `count` sessions (any of them) with `closure`; returns how many."""
        return self._subscribers.close_some(count, closure)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def watch_story(self, outbox: Outbox, story_id: UUID, owner: UUID) -> Watch:
        """Subscribe first, then offer the snapshot, so nothing published in between is lost."""
        return self._watches.story(outbox, story_id, owner)

    def watch_user(self, outbox: Outbox, user_id: UUID, story_ids: Sequence[UUID]) -> Watch:
        return self._watches.user(outbox, user_id, story_ids)

    async def end_of(self, story_id: UUID) -> int | None:
        """The `seq` of the story's stored snapshot if that is its end (`complete` or `failed`);
        None if it has not ended, or cannot be read now (the stream is then served as usual)."""
        return await self._watches.end_of(story_id)
