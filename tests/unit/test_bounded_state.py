"""Every map that grows with traffic has a bound, and traffic past it stays within it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from uuid import UUID

from dependency_injector import providers

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryStoryDirectory
from domain.access.directory_cache import CachingDirectory
from domain.aio.tasks import BackgroundTasks
from domain.connection.outbox import Outbox
from domain.hub.dashboard_routing import DashboardRouter, RoutingLimits
from domain.hub.snapshots import LatestFrames
from domain.hub.topics import TopicSubscriptions
from domain.progress import Frame, StoryStatus
from domain.values import Topic
from tests.unit.conftest import eventually, memory_container, started, update

CODEC = JsonCodec()


def test_latest_frames_keep_at_most_their_count_and_their_bytes() -> None:
    by_count, by_bytes = LatestFrames(CODEC, entries=3), LatestFrames(CODEC, size=2000)
    updates = [update(uuid.uuid4(), step="x" * 300) for _ in range(50)]

    for each in updates:
        by_count.frame_of(each)
        by_bytes.frame_of(each)

    assert len(by_count) == 3
    assert by_bytes.bytes <= 2000
    assert 0 < len(by_bytes) < 50
    assert by_count.frame_of(updates[-1]) is by_count.frame_of(updates[-1])  # the newest is kept


async def test_the_hubs_latest_frames_stay_bounded_when_viewers_each_open_a_new_story() -> None:
    """The audit's case: viewers each open a new story, get its updates, and leave."""
    container, frames = memory_container(), LatestFrames(CODEC, entries=5)
    container.frames.override(providers.Object(frames))
    hub, _ = await started(container)
    broker = container.memory_broker()
    try:
        for _ in range(40):
            story, outbox = uuid.uuid4(), Outbox()
            outbox.attach(lambda _entry: True, lambda: None, lambda _closure: None)
            async with hub.watch_story(outbox, story, uuid.uuid4()):
                await broker.publish(update(story, percent=1))
                await eventually(lambda outbox=outbox: len(outbox.held_stories()) == 1)
        assert len(frames) == 5
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


async def test_lingering_topics_are_bounded_the_longest_lingering_dropped_first() -> None:
    broker = MemoryBroker(per_topic=True)
    topics = TopicSubscriptions(broker, linger=3600, max_lingering=5)
    watched = [Topic("story", uuid.uuid4()) for _ in range(20)]

    for topic in watched:
        await topics.acquire(topic)
        topics.release(topic)
    await eventually(lambda: len(broker.watched) == 5)

    assert topics.subscribed == 5
    assert broker.watched == set(watched[-5:])


class SilentDirectory(MemoryStoryDirectory):
    """A directory that never answers: every lookup waits."""

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        await asyncio.Event().wait()
        return {}


class Delivered:
    """The router's delivery, recorded."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def to_owner(self, owner: UUID, frame: Frame) -> None:
        self.frames.append(frame)


async def test_the_routers_waiting_lists_are_bounded_in_stories_and_per_story() -> None:
    recorded, tasks = Delivered(), BackgroundTasks()
    delivered = recorded.frames
    limits = RoutingLimits(max_stories_waiting=3, max_waiting=4)
    router = DashboardRouter(CachingDirectory(SilentDirectory()), recorded, tasks, limits)
    stories = [uuid.uuid4() for _ in range(5)]
    statuses = [StoryStatus.ANALYZING, StoryStatus.GENERATING, StoryStatus.SYNTHESIZING]

    def frame(story: UUID, status: StoryStatus, seq: int) -> Frame:
        progress = update(story, status, seq % 100, seq=seq)
        return Frame(progress, CODEC.encode_bytes(progress))

    for seq in range(1, 61):
        status = statuses[min(seq // 20, 2)]
        for story in stories:
            router.route(frame(story, status, seq))

    waiting = router.waiting_updates(stories[0])
    assert router.stories_waiting == 3
    assert len(waiting) <= 4
    assert list(dict.fromkeys(status for status, _ in waiting)) == statuses  # no status change lost
    assert waiting[-1] == (StoryStatus.SYNTHESIZING, 60)
    assert router.waiting_updates(stories[4]) == []
    assert delivered == []
    await tasks.cancel_all()
