"""The contract of `ProgressPublisher` (seq, snapshots), and what the feed's contract needs too
(`progress_feed.py`): the ports, updates as workers send them, reading events.

A test module subclasses the contract classes and provides a `progress_ports` fixture: the feed,
the publisher, and a `RawChannel` that puts arbitrary bytes on a story's channel, the way a
foreign or legacy publisher would (the fake and Redis need different seeding for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from domain.ports import ProgressFeed, ProgressPublisher, TopicFeed
from domain.progress import ProgressUpdate, StoryStatus
from domain.values import FeedEvent, Subscribed, Topic
from testkit.waiting import timeout


class RawChannel(Protocol):
    def channel(self, story_id: UUID) -> str:
        """The channel name the feed reports in `Rejected.channel`."""
        ...

    async def send(self, story_id: UUID, data: bytes) -> None:
        """Put `data` on the channel of `story_id`, bypassing the publisher."""
        ...

    async def revoke(self, data: bytes) -> None:
        """Put `data` on the revocations channel, as the backend's `revoke` does with a story id."""
        ...


@dataclass
class ProgressPorts:
    """`publish` names an owner and `watch` subscribes a story's topic, as a `TopicFeed` (cluster)
    needs (the same feed, given as `topics`); the others ignore the owner, and have no topics."""

    feed: ProgressFeed
    publisher: ProgressPublisher
    raw: RawChannel
    topics: TopicFeed | None = None
    owner: UUID = field(default_factory=uuid.uuid4)

    async def publish(self, update: ProgressUpdate) -> ProgressUpdate:
        return await self.publisher.publish(update, owner=self.owner)

    async def watch(self, *stories: UUID) -> None:
        if self.topics is not None:
            await self.topics.watch([Topic("story", story) for story in stories])


def make_update(
    story_id: UUID,
    status: StoryStatus = StoryStatus.ANALYZING,
    percent: int = 10,
    step: str = "working",
    at: datetime | None = None,
    seq: int | None = None,
) -> ProgressUpdate:
    return ProgressUpdate(story_id, status, percent, step, at or datetime.now(UTC), seq)


def wire(story: UUID, **overrides: object) -> bytes:
    """A valid update as a worker would send it, with some fields replaced (None removes one)."""
    data: dict[str, object] = {
        "story_id": str(story),
        "status": "generating",
        "progress_percent": 40,
        "current_step": "Writing chapter 2",
        "updated_at": datetime.now(UTC).isoformat(),
    }
    data.update(overrides)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


@contextlib.asynccontextmanager
async def subscribed(feed: ProgressFeed) -> AsyncIterator[AsyncIterator[FeedEvent]]:
    """The feed's events, once `Subscribed` has come: from then on nothing published is missed."""
    events = feed.events()
    try:
        first = await next_event(events)
        assert first == Subscribed(), f"the feed began with {first!r}, not Subscribed"
        yield events
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def next_event(events: AsyncIterator[FeedEvent], seconds: float = 3.0) -> FeedEvent:
    async with asyncio.timeout(timeout(seconds)):
        return await anext(events)


class ProgressPublisherContract:
    async def test_publish_assigns_seq_one_two_three_and_returns_it(
        self, progress_ports: ProgressPorts
    ) -> None:
        story = uuid.uuid4()
        sent = [make_update(story, percent=p) for p in (10, 20, 30)]

        returned = [await progress_ports.publish(u) for u in sent]

        assert [u.seq for u in returned] == [1, 2, 3]
        assert returned == [replace(u, seq=i) for i, u in enumerate(sent, start=1)]

    async def test_seq_counts_per_story(self, progress_ports: ProgressPorts) -> None:
        first, second = uuid.uuid4(), uuid.uuid4()
        await progress_ports.publish(make_update(first))
        await progress_ports.publish(make_update(first))

        other = await progress_ports.publish(make_update(second))

        assert other.seq == 1

    async def test_a_seq_set_by_the_caller_is_replaced_by_the_next_one(
        self, progress_ports: ProgressPorts
    ) -> None:
        published = await progress_ports.publish(make_update(uuid.uuid4(), seq=99))

        assert published.seq == 1

    async def test_the_snapshot_is_the_latest_published_update(self, progress_ports: ProgressPorts) -> None:
        story = uuid.uuid4()
        await progress_ports.publish(make_update(story, percent=10))
        latest = await progress_ports.publish(make_update(story, StoryStatus.GENERATING, 55))

        assert await progress_ports.feed.snapshots([story]) == [latest]
