"""Per-topic subscriptions on demand (cluster mode): a process hears only what its clients watch.

The first local watcher of a story (or a user's first dashboard) subscribes its channel, and
waits for the broker's confirmation before reading the snapshot, so nothing published in between
is lost. Concurrent watchers share one subscription. The channel is dropped `linger` seconds
after its last watcher leaves, so a page that reconnects finds it still there. Only a `TopicFeed`
needs this (see `domain.hub.reach`): a feed whose one subscription brings every story has no
topics to hold.

Bound: the topics held (one per story or user watched here, so bounded by the connections) and
at most `max_lingering` (10,000) that linger after their last watcher; past that, the topic
that has lingered longest is dropped at once.
"""

from __future__ import annotations

import asyncio
import logging

from domain.aio.futures import failure
from domain.errors import FeedUnavailable
from domain.ports import TopicFeed
from domain.values import Topic

logger = logging.getLogger(__name__)


class TopicSubscriptions:
    def __init__(self, feed: TopicFeed, linger: float = 30.0, max_lingering: int = 10_000) -> None:
        self._feed = feed
        self._linger = linger
        self._max_lingering = max_lingering
        self._holders: dict[Topic, int] = {}
        self._confirmed: dict[Topic, asyncio.Future[None]] = {}
        self._dropping: dict[Topic, asyncio.TimerHandle] = {}

    async def acquire(self, topic: Topic) -> None:
        """Subscribed to `topic` until `release`; a broker failure is logged, not raised: the feed
        keeps the topic and subscribes it again with the next subscription, which resyncs."""
        self._holders[topic] = self._holders.get(topic, 0) + 1
        if (timer := self._dropping.pop(topic, None)) is not None:
            timer.cancel()
        await self._subscribed(topic)

    def release(self, topic: Topic) -> None:
        if topic not in self._holders:
            return
        self._holders[topic] -= 1
        if not self._holders[topic]:
            del self._holders[topic]
            loop = asyncio.get_running_loop()
            self._dropping[topic] = loop.call_later(self._linger, self._drop, topic)
            if len(self._dropping) > self._max_lingering:
                oldest = next(iter(self._dropping))
                self._dropping[oldest].cancel()
                self._drop(oldest)

    @property
    def subscribed(self) -> int:
        """Topics subscribed here: held, or lingering after their last watcher."""
        return len(self._holders) + len(self._dropping)

    async def _subscribed(self, topic: Topic) -> None:
        confirmed = self._confirmed.get(topic)
        if confirmed is None:
            confirmed = self._confirmed[topic] = asyncio.ensure_future(self._feed.watch([topic]))
            confirmed.add_done_callback(lambda done: self._failed(topic, done))
        try:
            await asyncio.shield(confirmed)
        except FeedUnavailable as exc:
            logger.warning(
                "subscription to %s %s failed, the resync will cover it: %s", topic.kind, topic.id, exc
            )

    def _failed(self, topic: Topic, done: asyncio.Future[None]) -> None:
        """A failed subscription is tried again by the next watcher (the feed also remembers it)."""
        failed = done.cancelled() or failure(done) is not None
        if failed and self._confirmed.get(topic) is done:
            del self._confirmed[topic]

    def _drop(self, topic: Topic) -> None:
        self._dropping.pop(topic, None)
        if topic in self._holders:
            return
        self._confirmed.pop(topic, None)
        task = asyncio.ensure_future(self._feed.unwatch([topic]))
        task.add_done_callback(_log_unwatch_failure)


def _log_unwatch_failure(task: asyncio.Future[None]) -> None:
    if (error := failure(task)) is not None:
        logger.warning("unsubscribe failed (the next resubscription drops it): %r", error)
