"""The contract of `ProgressFeed`: ordered events, snapshots, rejections, revocations, and what an
outage looks like.

A test module subclasses the contract classes and provides a `progress_ports` fixture (see
`tests/contracts/progress.py`) and, for the outage, a `breakable_feed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import FeedUnavailable
from domain.ports import ProgressFeed
from domain.progress import ProgressUpdate, RejectReason, StoryStatus
from domain.values import Rejected, Revoked, Subscribed
from testkit.waiting import outcome
from tests.contracts.progress import ProgressPorts, make_update, next_event, subscribed, wire

INVALID_PAYLOADS = [
    pytest.param(b"not json {", "payload", id="not-json"),
    pytest.param(b"[1, 2]", "payload", id="not-an-object"),
    pytest.param({"story_id": "not-a-uuid"}, "story_id", id="story-id-not-uuid"),
    pytest.param({"status": "dreaming"}, "status", id="unknown-status"),
    pytest.param({"status": None}, "status", id="missing-status"),
    pytest.param({"progress_percent": 101}, "progress_percent", id="percent-above-100"),
    pytest.param({"progress_percent": "40"}, "progress_percent", id="percent-a-string"),
    pytest.param({"current_step": None}, "current_step", id="missing-step"),
    pytest.param({"updated_at": "2026-11-25T20:43:58"}, "updated_at", id="naive-timestamp"),
    pytest.param({"updated_at": "yesterday"}, "updated_at", id="timestamp-not-iso"),
    pytest.param({"seq": -1}, "seq", id="negative-seq"),
    pytest.param({"seq": "7"}, "seq", id="seq-a-string"),
    pytest.param({"seq": 2**53 + 1}, "seq", id="seq-over-2-53"),
    pytest.param({"seq": 10**30}, "seq", id="seq-10-30"),
    pytest.param({"current_step": "x" * 64 * 1024}, "too_big", id="over-64-kib"),
]


class ProgressFeedContract:
    async def test_events_begin_with_subscribed(self, progress_ports: ProgressPorts) -> None:
        events = progress_ports.feed.events()
        try:
            assert await next_event(events) == Subscribed()
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def test_events_yield_published_updates_in_order(self, progress_ports: ProgressPorts) -> None:
        story = uuid.uuid4()
        statuses = [
            StoryStatus.ANALYZING,
            StoryStatus.GENERATING,
            StoryStatus.SYNTHESIZING,
            StoryStatus.COMPLETE,
        ]
        await progress_ports.watch(story)
        async with subscribed(progress_ports.feed) as events:
            published = [
                await progress_ports.publish(make_update(story, s, 25 * i)) for i, s in enumerate(statuses)
            ]
            received = [await next_event(events) for _ in published]

        assert received == published
        assert [u.seq for u in published] == [1, 2, 3, 4]

    async def test_snapshot_of_a_story_never_published_is_none(self, progress_ports: ProgressPorts) -> None:
        assert await progress_ports.feed.snapshots([uuid.uuid4()]) == []

    async def test_snapshots_of_several_stories_are_the_latest_of_those_that_have_one(
        self, progress_ports: ProgressPorts
    ) -> None:
        first, second, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await progress_ports.publish(make_update(first, percent=5))
        latest_first = await progress_ports.publish(make_update(first, percent=6))
        latest_second = await progress_ports.publish(make_update(second, StoryStatus.FAILED, 70))

        found = await progress_ports.feed.snapshots([first, never, second])

        assert {u.story_id: u for u in found} == {first: latest_first, second: latest_second}
        assert len(found) == 2

    async def test_snapshots_of_no_story_is_empty(self, progress_ports: ProgressPorts) -> None:
        assert await progress_ports.feed.snapshots([]) == []

    @pytest.mark.parametrize(("payload", "field"), INVALID_PAYLOADS)
    async def test_an_invalid_payload_is_rejected_naming_the_field(
        self, progress_ports: ProgressPorts, payload: bytes | dict[str, object], field: str
    ) -> None:
        story = uuid.uuid4()
        data = payload if isinstance(payload, bytes) else wire(story, **payload)
        await progress_ports.watch(story)
        async with subscribed(progress_ports.feed) as events:
            await progress_ports.raw.send(story, data)
            event = await next_event(events)

        assert isinstance(event, Rejected), f"{data[:200]!r} came out as {event!r}"
        assert event.reason == field, event
        assert event.channel == progress_ports.raw.channel(story)

    async def test_an_update_on_another_storys_channel_is_rejected(
        self, progress_ports: ProgressPorts
    ) -> None:
        channel_story, claimed_story = uuid.uuid4(), uuid.uuid4()
        await progress_ports.watch(channel_story)
        async with subscribed(progress_ports.feed) as events:
            await progress_ports.raw.send(channel_story, wire(claimed_story))
            event = await next_event(events)

        assert isinstance(event, Rejected)
        assert (event.reason, event.detail) == ("story_id", "differs from the channel's")
        assert event.channel == progress_ports.raw.channel(channel_story)

    async def test_a_rejected_message_does_not_stop_delivery(self, progress_ports: ProgressPorts) -> None:
        story = uuid.uuid4()
        await progress_ports.watch(story)
        async with subscribed(progress_ports.feed) as events:
            await progress_ports.raw.send(story, b"\xff\xfe garbage")
            published = await progress_ports.publish(make_update(story))
            rejected, delivered = await next_event(events), await next_event(events)

        assert isinstance(rejected, Rejected)
        assert delivered == published

    async def test_updates_without_seq_are_delivered_in_arrival_order(
        self, progress_ports: ProgressPorts
    ) -> None:
        """A legacy publisher sets no seq; even an older `updated_at` arrives where it was sent."""
        story = uuid.uuid4()
        now = datetime.now(UTC)
        stamps = [now, now - timedelta(seconds=5), now + timedelta(seconds=1)]
        await progress_ports.watch(story)
        async with subscribed(progress_ports.feed) as events:
            for percent, at in zip((10, 20, 30), stamps, strict=True):
                await progress_ports.raw.send(
                    story, wire(story, progress_percent=percent, updated_at=at.isoformat())
                )
            received = [await next_event(events) for _ in stamps]

        assert all(isinstance(u, ProgressUpdate) and u.seq is None for u in received)
        assert [u.progress_percent for u in received if isinstance(u, ProgressUpdate)] == [10, 20, 30]
        assert [u.updated_at for u in received if isinstance(u, ProgressUpdate)] == stamps

    async def test_ping_answers_while_the_broker_is_up(self, progress_ports: ProgressPorts) -> None:
        assert await outcome(progress_ports.feed.ping()) == "answered"

    async def test_snapshots_of_many_stories_in_one_call(self, progress_ports: ProgressPorts) -> None:
        stories = [uuid.uuid4() for _ in range(1200)]
        published = [await progress_ports.publish(make_update(story)) for story in stories[::100]]

        found = await progress_ports.feed.snapshots(stories)

        assert found == published

    async def test_a_story_id_on_the_revocations_channel_arrives_revoked_and_garbage_is_rejected(
        self, progress_ports: ProgressPorts
    ) -> None:
        """Always subscribed, whatever is watched (in cluster mode on a shard of its own, so not in
        order with the updates of other channels)."""
        story, watched = uuid.uuid4(), uuid.uuid4()
        await progress_ports.watch(watched)
        async with subscribed(progress_ports.feed) as events:
            await progress_ports.raw.revoke(str(story).encode())
            await progress_ports.raw.revoke(b"story:" + str(story).encode())
            published = await progress_ports.publish(make_update(watched))
            received = [await next_event(events) for _ in range(3)]

        rejected = [event for event in received if isinstance(event, Rejected)]
        assert [event for event in received if isinstance(event, Revoked)] == [Revoked(story)]
        assert [event.reason for event in rejected] == [RejectReason.REVOCATION]
        assert published in received


@dataclass
class BreakableFeed:
    """A feed and a way to take its broker down (`MemoryBroker.fail`, or killing a private Redis)."""

    feed: ProgressFeed
    fail: Callable[[], Awaitable[None]]


class ProgressFeedOutageContract:
    async def test_reads_raise_feed_unavailable_while_the_broker_is_down(
        self, breakable_feed: BreakableFeed
    ) -> None:
        feed = breakable_feed.feed
        await feed.ping()
        await breakable_feed.fail()

        for read in (feed.ping, lambda: feed.snapshots([uuid.uuid4()])):
            with pytest.raises(FeedUnavailable):
                await read()

    async def test_a_subscription_ends_with_feed_unavailable_when_the_broker_fails(
        self, breakable_feed: BreakableFeed
    ) -> None:
        async with subscribed(breakable_feed.feed) as events:
            await breakable_feed.fail()
            with pytest.raises(FeedUnavailable):
                await next_event(events)

    async def test_subscribing_while_the_broker_is_down_raises_feed_unavailable(
        self, breakable_feed: BreakableFeed
    ) -> None:
        await breakable_feed.fail()
        events = breakable_feed.feed.events()
        try:
            with pytest.raises(FeedUnavailable):
                await next_event(events)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
