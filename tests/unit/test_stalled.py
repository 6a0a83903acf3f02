"""Stalled detection on the fakes, with hand-moved clocks: the flag appears after STALLED_AFTER
without news, a liveness refresh or an update clears it, terminal stories are never flagged, one
liveness read serves every story of a check, and what is remembered is bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryMetrics, MemoryWorkerSignals
from domain.connection.outbox import Outbox
from domain.hub.snapshots import LatestFrames
from domain.hub.stalled import StalledStories, StallRules, check_interval
from domain.hub.subscribers import Subscribers
from domain.progress import Frame, ProgressUpdate, StoryStatus
from testkit.waiting import Clock
from tests.unit.conftest import drain

AFTER = 10.0
S = StoryStatus
CODEC = JsonCodec()


class Stalls:
    """A `StalledStories` over real subscribers and outboxes, its clocks moved by hand."""

    def __init__(self, limit: int = 1000) -> None:
        self.clock = Clock()
        self.wall = Clock(1_800_000_000.0)
        self.signals = MemoryWorkerSignals()
        self.subscribers = Subscribers(MemoryMetrics())
        rules = StallRules(after=AFTER, limit=limit, clock=self.clock, wall=self.wall)
        self.stalls = StalledStories(self.subscribers, LatestFrames(CODEC), self.signals, rules)

    def pass_time(self, seconds: float) -> None:
        self.clock.now += seconds
        self.wall.now += seconds

    def state(self, story: UUID, seq: int, status: StoryStatus = StoryStatus.GENERATING) -> Frame:
        at = datetime.fromtimestamp(self.wall.now, UTC)
        update = ProgressUpdate(story, status, 10 * seq % 100, "working", at, seq)
        return Frame(update, CODEC.encode_bytes(update))

    def watcher(self, story: UUID, seq: int = 1, status: StoryStatus = StoryStatus.GENERATING) -> Outbox:
        outbox = Outbox()
        self.subscribers.add(self.subscribers.by_story, story, outbox)
        outbox.offer(self.state(story, seq, status))
        drain(outbox)
        return outbox


def flags(outbox: Outbox) -> list[tuple[int, bool]]:
    received: list[dict[str, Any]] = drain(outbox)
    return [(m["seq"], m.get("stalled", False)) for m in received]


async def test_a_quiet_story_is_sent_again_with_stalled_after_the_time() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story, seq=3)

    await rig.stalls.check()
    rig.pass_time(AFTER - 1)
    await rig.stalls.check()
    assert flags(outbox) == []

    rig.pass_time(1)
    await rig.stalls.check()
    await rig.stalls.check()  # said once
    assert flags(outbox) == [(3, True)]


async def test_a_liveness_refresh_clears_the_flag_with_the_same_seq() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story, seq=3)
    await rig.stalls.check()
    rig.pass_time(AFTER)
    await rig.stalls.check()
    assert flags(outbox) == [(3, True)]

    rig.signals.heartbeat(story, int(rig.wall.now * 1000))
    await rig.stalls.check()

    assert flags(outbox) == [(3, False)]


async def test_a_heartbeat_keeps_a_story_without_updates_from_stalling() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story)
    await rig.stalls.check()
    for _ in range(6):
        rig.pass_time(AFTER / 2)
        rig.signals.heartbeat(story, int(rig.wall.now * 1000))
        await rig.stalls.check()

    assert flags(outbox) == []


async def test_an_expired_liveness_key_is_no_news_and_the_story_stalls() -> None:
    rig, story = Stalls(), uuid.uuid4()
    rig.signals.heartbeat(story, int(rig.wall.now * 1000))
    outbox = rig.watcher(story)
    await rig.stalls.check()
    rig.signals.expire(story)
    rig.pass_time(AFTER)
    await rig.stalls.check()

    assert flags(outbox) == [(1, True)]


async def test_a_new_update_clears_the_flag_by_itself_and_is_not_repeated() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story, seq=3)
    await rig.stalls.check()
    rig.pass_time(AFTER)
    await rig.stalls.check()
    assert flags(outbox) == [(3, True)]

    outbox.offer(rig.state(story, 4))
    await rig.stalls.check()
    rig.pass_time(AFTER - 1)
    await rig.stalls.check()

    assert flags(outbox) == [(4, False)]
    assert rig.stalls.mark(rig.state(story, 4).update).stalled is False


async def test_a_terminal_story_is_never_flagged() -> None:
    rig = Stalls()
    done, failed = uuid.uuid4(), uuid.uuid4()
    outboxes = [
        rig.watcher(done, status=StoryStatus.COMPLETE),
        rig.watcher(failed, status=StoryStatus.FAILED),
    ]
    await rig.stalls.check()
    rig.pass_time(AFTER * 10)
    await rig.stalls.check()

    assert [flags(o) for o in outboxes] == [[], []]
    assert len(rig.stalls) == 0


async def test_a_story_whose_last_news_is_old_at_first_sight_stalls_at_the_first_check() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story)
    rig.pass_time(AFTER * 3)  # the state's updated_at is that old when the check first sees it

    await rig.stalls.check()

    assert flags(outbox) == [(1, True)]


async def test_one_liveness_read_per_check_for_every_story() -> None:
    rig = Stalls(limit=5000)
    dashboard = Outbox()
    rig.subscribers.add(rig.subscribers.by_user, uuid.uuid4(), dashboard)
    for _ in range(2000):
        dashboard.offer(rig.state(uuid.uuid4(), 1))
    drain(dashboard)

    await rig.stalls.check()
    rig.pass_time(AFTER)
    await rig.stalls.check()

    assert rig.signals.reads == 2
    assert len(flags(dashboard)) == 2000


async def test_no_read_at_all_when_nothing_is_watched() -> None:
    rig = Stalls()
    await rig.stalls.check()
    assert rig.signals.reads == 0


async def test_what_is_judged_is_bounded_and_forgotten_when_unwatched() -> None:
    rig = Stalls(limit=10)
    outboxes = {story: rig.watcher(story) for story in (uuid.uuid4() for _ in range(25))}
    await rig.stalls.check()
    assert len(rig.stalls) == 10

    for story, outbox in outboxes.items():
        rig.subscribers.remove(rig.subscribers.by_story, story, outbox)
    await rig.stalls.check()
    assert len(rig.stalls) == 0


async def test_a_repeat_never_takes_an_older_state_to_a_watcher_that_holds_a_newer_one() -> None:
    rig, story = Stalls(), uuid.uuid4()
    behind, ahead = rig.watcher(story, seq=1), rig.watcher(story, seq=1)
    await rig.stalls.check()
    ahead.offer(rig.state(story, 2))
    drain(ahead)
    rig.pass_time(AFTER)
    await rig.stalls.check()  # the update counts as news: nothing stalls yet

    assert flags(behind) == flags(ahead) == []
    rig.pass_time(AFTER)
    await rig.stalls.check()
    assert flags(behind) == flags(ahead) == [(2, True)]


async def test_a_queued_state_takes_the_flag_in_its_place() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story, seq=1)
    await rig.stalls.check()
    outbox.offer(rig.state(story, 2))  # queued, not yet written
    rig.pass_time(AFTER)
    await rig.stalls.check()
    rig.pass_time(AFTER)
    await rig.stalls.check()

    assert flags(outbox) == [(2, True)]


async def test_snapshots_of_the_stalled_state_are_marked_and_others_not() -> None:
    rig, story = Stalls(), uuid.uuid4()
    held = rig.watcher(story, seq=5)
    stored = next(iter(held.held_frames())).update  # as Redis holds it: never flagged
    await rig.stalls.check()
    rig.pass_time(AFTER)
    await rig.stalls.check()

    assert flags(held) == [(5, True)]
    assert rig.stalls.mark(stored).stalled is True
    assert rig.stalls.mark(rig.state(story, 6).update).stalled is False  # a newer state


async def test_liveness_unreadable_changes_nothing() -> None:
    rig, story = Stalls(), uuid.uuid4()
    outbox = rig.watcher(story)
    await rig.stalls.check()
    rig.signals.fail()
    rig.pass_time(AFTER)
    await rig.stalls.check()
    assert flags(outbox) == []

    rig.signals.recover()
    await rig.stalls.check()
    assert flags(outbox) == [(1, True)]


def test_the_check_interval_is_a_quarter_of_the_threshold_at_most_5_s() -> None:
    assert check_interval(120) == 5.0
    assert check_interval(2) == 0.5
