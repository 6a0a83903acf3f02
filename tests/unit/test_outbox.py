"""The per-subscriber outbox: conflation within a status, never across one; stale updates dropped."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from domain.connection.outbox import Offer, Outbox
from domain.errors import Closure
from tests.unit.conftest import T0, S, drain, frame, seen


def test_percent_updates_within_one_status_merge_into_the_newest() -> None:
    story, outbox = uuid.uuid4(), Outbox()

    offers = [outbox.offer(frame(story, S.GENERATING, p, seq)) for seq, p in enumerate([10, 20, 30], 1)]

    assert offers == [Offer.QUEUED, Offer.MERGED, Offer.MERGED]
    assert seen(outbox) == [("generating", 30, 3)]


def test_a_status_change_is_never_merged_away() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    script = [(S.ANALYZING, 10), (S.ANALYZING, 20), (S.GENERATING, 40), (S.GENERATING, 50), (S.COMPLETE, 100)]

    for seq, (status, percent) in enumerate(script, 1):
        outbox.offer(frame(story, status, percent, seq))

    assert seen(outbox) == [("analyzing", 20, 2), ("generating", 50, 4), ("complete", 100, 5)]


def test_a_status_that_comes_back_is_queued_again_not_merged_into_its_first_run() -> None:
    story, outbox = uuid.uuid4(), Outbox()

    for seq, status in enumerate([S.ANALYZING, S.GENERATING, S.ANALYZING], 1):
        outbox.offer(frame(story, status, 10, seq))

    assert seen(outbox) == [("analyzing", 10, 1), ("generating", 10, 2), ("analyzing", 10, 3)]


def test_the_terminal_state_is_kept_after_earlier_updates_merge() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.SYNTHESIZING, 70, 1))
    outbox.offer(frame(story, S.SYNTHESIZING, 85, 2))
    outbox.offer(frame(story, S.FAILED, 85, 3))

    assert seen(outbox)[-1] == ("failed", 85, 3)


def test_stories_are_merged_independently() -> None:
    first, second, outbox = uuid.uuid4(), uuid.uuid4(), Outbox()
    outbox.offer(frame(first, S.GENERATING, 10, 1))
    outbox.offer(frame(second, S.GENERATING, 10, 1))
    outbox.offer(frame(first, S.GENERATING, 20, 2))

    received = drain(outbox)

    assert [(m["story_id"], m["progress_percent"]) for m in received] == [(str(first), 20), (str(second), 10)]


def test_a_live_update_with_an_older_or_equal_seq_is_dropped() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.GENERATING, 50, 5))
    drain(outbox)

    assert outbox.offer(frame(story, S.GENERATING, 40, 4)) is Offer.STALE
    assert outbox.offer(frame(story, S.GENERATING, 50, 5)) is Offer.STALE
    assert drain(outbox) == []


def test_a_snapshot_is_taken_only_when_newer_than_what_is_held() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.GENERATING, 50, 5))

    assert outbox.offer(frame(story, S.GENERATING, 50, 5), live=False) is Offer.STALE
    assert outbox.offer(frame(story, S.GENERATING, 40, 4), live=False) is Offer.STALE
    assert outbox.offer(frame(story, S.COMPLETE, 100, 6), live=False) is Offer.QUEUED


def test_a_seq_less_snapshot_older_than_what_is_held_is_dropped() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.GENERATING, 50, None, at=T0))

    assert outbox.offer(frame(story, S.ANALYZING, 10, None, at=T0 - timedelta(seconds=1)), live=False) is (
        Offer.STALE
    )
    assert seen(outbox) == [("generating", 50, None)]


def test_seq_less_live_updates_are_kept_in_arrival_order_whatever_their_clock() -> None:
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.ANALYZING, 10, None, at=T0))
    outbox.offer(frame(story, S.GENERATING, 40, None, at=T0 - timedelta(seconds=5)))
    drain(outbox)
    outbox.offer(frame(story, S.COMPLETE, 100, None, at=T0 - timedelta(seconds=9)))

    assert seen(outbox) == [("complete", 100, None)]


def test_resend_latest_queues_the_held_state_of_every_story_once() -> None:
    first, second, outbox = uuid.uuid4(), uuid.uuid4(), Outbox()
    outbox.offer(frame(first, S.GENERATING, 40, 4))
    outbox.offer(frame(second, S.COMPLETE, 100, 9))
    drain(outbox)
    outbox.offer(frame(first, S.GENERATING, 45, 5))

    assert outbox.resend_latest() == 2
    assert sorted(seen(outbox)) == [("complete", 100, 9), ("generating", 45, 5)]


def test_resend_latest_with_nothing_held_sends_nothing() -> None:
    outbox = Outbox()

    assert outbox.resend_latest() == 0
    assert drain(outbox) == []


def test_resend_latest_sends_a_newer_stored_snapshot_once_in_place_of_the_held_state() -> None:
    """`status` after a store written without a publish: one message per story, the newer one."""
    changed, same, outbox = uuid.uuid4(), uuid.uuid4(), Outbox()
    written: list[str] = []
    outbox.attach(
        lambda entry: written.append(entry if isinstance(entry, str) else entry.text) or True, _no, _no
    )
    outbox.offer(frame(changed, S.GENERATING, 40, 4))
    outbox.offer(frame(same, S.GENERATING, 10, 2))
    written.clear()

    answered = outbox.resend_latest([frame(changed, S.SYNTHESIZING, 80, 7), frame(same, S.GENERATING, 10, 2)])

    assert answered == 2
    assert sorted((m["story_id"], m["seq"]) for m in map(json.loads, written)) == sorted(
        [(str(changed), 7), (str(same), 2)]
    )


def test_a_forgotten_story_is_not_sent_any_more_nor_answered_by_status() -> None:
    moved, kept, outbox = uuid.uuid4(), uuid.uuid4(), Outbox()
    outbox.offer(frame(moved, S.ANALYZING, 10, 1))
    outbox.offer(frame(moved, S.GENERATING, 40, 2))
    outbox.offer(frame(kept, S.GENERATING, 50, 3))

    outbox.forget(moved)

    assert outbox.held_stories() == [kept]
    assert seen(outbox) == [("generating", 50, 3)]
    assert outbox.resend_latest() == 1
    assert seen(outbox) == [("generating", 50, 3)]
    assert outbox.offer(frame(moved, S.ANALYZING, 5, 1)) is Offer.QUEUED  # held no more: a new start


def _no(*_: object) -> None:
    return None


def test_control_texts_are_never_merged_or_dropped() -> None:
    outbox = Outbox()
    for text in ["pong", "pong", "ping", "auth ok"]:
        outbox.push_text(text)

    assert drain(outbox) == ["pong", "pong", "ping", "auth ok"]


def test_unsent_control_texts_over_the_limit_close_the_outbox_as_a_slow_client() -> None:
    outbox = Outbox(limit=3)
    for _ in range(3):
        outbox.push_text("pong")

    assert outbox.closure is None
    outbox.push_text("ping")
    assert outbox.closure is Closure.SLOW_CLIENT


def test_progress_of_many_stories_never_overflows() -> None:
    """A dashboard's snapshots (one per story) are bounded by its stories, not by the limit."""
    outbox = Outbox(limit=3)
    for n in range(5000):
        outbox.offer(frame(uuid.uuid4(), S.GENERATING, n % 100, 1))

    assert outbox.closure is None
    assert len(drain(outbox)) == 5000


def test_sent_control_texts_no_longer_count() -> None:
    outbox = Outbox(limit=2)
    for _ in range(10):
        outbox.push_text("pong")
        assert outbox.pop() == "pong"

    assert outbox.closure is None


def test_the_first_close_reason_wins() -> None:
    outbox = Outbox()
    outbox.close(Closure.SHUTDOWN)
    outbox.close(Closure.SLOW_CLIENT)

    assert outbox.closure is Closure.SHUTDOWN


def test_after_reset_order_a_restarted_seq_is_taken() -> None:
    """A broker that lost its data counts seq from 1 again; the subscriber must not freeze on the old seq."""
    story, outbox = uuid.uuid4(), Outbox()
    outbox.offer(frame(story, S.GENERATING, 50, 40))
    drain(outbox)

    outbox.reset_order()

    assert outbox.offer(frame(story, S.ANALYZING, 5, 1)) is Offer.QUEUED
    assert outbox.offer(frame(story, S.ANALYZING, 4, 1)) is Offer.STALE
    assert seen(outbox) == [("analyzing", 5, 1)]
