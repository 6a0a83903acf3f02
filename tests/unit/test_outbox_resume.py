"""An outbox told which `seq` of a story its client holds (SSE's Last-Event-ID): a snapshot at or
before it is not sent again; newer snapshots and every live update are."""

from __future__ import annotations

import uuid

from domain.connection.outbox import Offer, Outbox
from domain.progress import StoryStatus
from tests.unit.test_outbox import frame, seen

S = StoryStatus


def resumed_at(seq: int, story: uuid.UUID) -> Outbox:
    outbox = Outbox()
    outbox.resume(story, seq)
    return outbox


def test_a_snapshot_at_or_before_the_held_seq_is_not_sent_again() -> None:
    story = uuid.uuid4()
    at, before = resumed_at(5, story), resumed_at(5, story)

    assert at.offer(frame(story, S.GENERATING, 50, 5), live=False) is Offer.STALE
    assert before.offer(frame(story, S.GENERATING, 40, 4), live=False) is Offer.STALE
    assert seen(at) == seen(before) == []


def test_a_newer_snapshot_and_live_updates_are_delivered() -> None:
    story = uuid.uuid4()
    newer, live = resumed_at(5, story), resumed_at(5, story)

    newer.offer(frame(story, S.GENERATING, 60, 6), live=False)
    live.offer(frame(story, S.GENERATING, 10, 1))  # a seq that started again: it passes

    assert seen(newer) == [("generating", 60, 6)]
    assert seen(live) == [("generating", 10, 1)]


def test_other_stories_and_updates_without_seq_are_not_held_back() -> None:
    story, other = uuid.uuid4(), uuid.uuid4()
    outbox = resumed_at(5, story)

    outbox.offer(frame(other, S.GENERATING, 20, 2), live=False)
    outbox.offer(frame(story, S.ANALYZING, 30, None), live=False)

    assert seen(outbox) == [("generating", 20, 2), ("analyzing", 30, None)]


def test_after_a_broker_reconnect_the_held_seq_no_longer_decides() -> None:
    story = uuid.uuid4()
    outbox = resumed_at(5, story)

    outbox.reset_order()  # seqs may have started again
    offered = outbox.offer(frame(story, S.GENERATING, 10, 2), live=False)

    assert offered is Offer.QUEUED
    assert seen(outbox) == [("generating", 10, 2)]
