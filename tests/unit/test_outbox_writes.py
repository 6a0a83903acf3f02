"""The outbox's direct writes: a socket that keeps up is written at once, a backlog is drained in
order by the sender, and closing stops both."""

from __future__ import annotations

import uuid

from domain.connection.outbox import Offer, Outbox
from domain.errors import Closure
from domain.progress import Frame
from tests.unit.conftest import S, frame, seen


class Socket:
    """A socket that takes messages at once while `writable`, and records what it took."""

    def __init__(self) -> None:
        self.writable = True
        self.took: list[Frame | str] = []
        self.backlogs = 0
        self.closed: list[Closure] = []

    def attach(self, outbox: Outbox) -> Outbox:
        outbox.attach(self.write_now, self.backlog, self.closed.append)
        return outbox

    def write_now(self, entry: Frame | str) -> bool:
        if self.writable:
            self.took.append(entry)
        return self.writable

    def backlog(self) -> None:
        self.backlogs += 1


def test_an_offer_to_a_socket_that_keeps_up_is_written_at_once_and_never_queued() -> None:
    story, socket = uuid.uuid4(), Socket()
    outbox = socket.attach(Outbox())

    offers = [outbox.offer(frame(story, S.GENERATING, p, seq)) for seq, p in enumerate([10, 20], 1)]
    outbox.push_text("pong")

    assert offers == [Offer.SENT, Offer.SENT]
    assert len(outbox) == 0
    assert socket.backlogs == 0
    assert [e.update.progress_percent if isinstance(e, Frame) else e for e in socket.took] == [10, 20, "pong"]


def test_a_socket_that_falls_behind_gets_a_backlog_drained_in_order_then_direct_writes_again() -> None:
    story, socket = uuid.uuid4(), Socket()
    outbox = socket.attach(Outbox())
    socket.writable = False

    queued = [outbox.offer(frame(story, S.GENERATING, p, seq)) for seq, p in enumerate([10, 20], 1)]
    socket.writable = True
    late = outbox.offer(frame(story, S.SYNTHESIZING, 70, 3))  # behind the backlog: never overtakes it

    assert queued == [Offer.QUEUED, Offer.MERGED]
    assert late is Offer.QUEUED
    assert socket.backlogs == 1
    assert seen(outbox) == [("generating", 20, 2), ("synthesizing", 70, 3)]
    assert outbox.offer(frame(story, S.COMPLETE, 100, 4)) is Offer.SENT


def test_nothing_is_written_directly_while_the_sender_holds_a_popped_entry() -> None:
    story, socket = uuid.uuid4(), Socket()
    outbox = socket.attach(Outbox())
    socket.writable = False
    outbox.offer(frame(story, S.GENERATING, 10, 1))
    socket.writable = True

    in_flight = outbox.pop()
    behind = outbox.offer(frame(story, S.GENERATING, 20, 2))
    outbox.done()

    assert isinstance(in_flight, Frame)
    assert behind is Offer.QUEUED
    assert seen(outbox) == [("generating", 20, 2)]


def test_closing_tells_the_session_once_and_stops_direct_writes() -> None:
    story, socket = uuid.uuid4(), Socket()
    outbox = socket.attach(Outbox())

    outbox.close(Closure.SHUTDOWN)
    outbox.close(Closure.SLOW_CLIENT)

    assert socket.closed == [Closure.SHUTDOWN]
    assert outbox.offer(frame(story, S.GENERATING, 10, 1)) is Offer.QUEUED
    assert socket.took == []
