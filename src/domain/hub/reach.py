"""What the feed brings this process, by its kind, and so how dashboards hear a story's updates.

Two kinds, two types, picked by the container with the feed:
- `EveryStory`: one pattern subscription brings every story's updates (standalone Redis). There
  is no topic to subscribe, and a story's own updates are routed to its owner's dashboards.
- `WatchedTopics`: only the topics this process's clients watch arrive (Redis Cluster), held by
  `TopicSubscriptions`. Dashboards hear their stories on the owner's channel, so a story's own
  updates reach only its story sockets.
In both, an update heard on an owner's channel reaches that owner's dashboards only where the
directory agrees (`DashboardRouter`).
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from domain.hub.dashboard_routing import DashboardRouter
from domain.hub.topics import TopicSubscriptions
from domain.progress import Frame
from domain.values import Topic


class Reach(Protocol):
    async def acquire(self, topic: Topic) -> None:
        """Hear `topic` from now on (until `release`); returns once nothing published is missed."""
        ...

    def release(self, topic: Topic) -> None: ...

    def story_update(self, frame: Frame) -> None:
        """An update heard on its story's channel, while dashboards are open here."""
        ...

    def owner_update(self, owner: UUID, frame: Frame) -> None:
        """An update heard on `owner`'s channel, while that owner has a dashboard here."""
        ...


class EveryStory:
    """A feed whose one subscription brings every story: nothing to acquire, and dashboards hear a
    story's own updates, routed by the owner the directory names."""

    def __init__(self, router: DashboardRouter) -> None:
        self._router = router

    async def acquire(self, topic: Topic) -> None:
        return None

    def release(self, topic: Topic) -> None:
        return None

    def story_update(self, frame: Frame) -> None:
        self._router.route(frame)

    def owner_update(self, owner: UUID, frame: Frame) -> None:
        self._router.route(frame, owner)


class WatchedTopics:
    """A feed that brings only the topics subscribed here: dashboards hear on their owner's channel."""

    def __init__(self, topics: TopicSubscriptions, router: DashboardRouter) -> None:
        self._topics = topics
        self._router = router

    async def acquire(self, topic: Topic) -> None:
        await self._topics.acquire(topic)

    def release(self, topic: Topic) -> None:
        self._topics.release(topic)

    def story_update(self, frame: Frame) -> None:
        """Nothing: the same update also comes on its owner's channel (`owner_update`)."""

    def owner_update(self, owner: UUID, frame: Frame) -> None:
        self._router.route(frame, owner)
