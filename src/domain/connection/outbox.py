"""Per-subscriber outbox: progress is state, so a reader that falls behind gets the newest state.

A subscriber whose socket keeps up never queues: an offer with nothing queued or in flight is
written straight to the socket (`attach`'s `write_now`), with no task to wake. Only when the
socket cannot take it now does the update wait here, and `backlog` is told so that a sender
drains the queue in order. Within one story, a queued update is replaced by a newer one of the
same status (conflation); a change of status, the terminal one included, always gets its own
place in the queue. Updates older than what the subscriber already holds (by `seq`) are dropped,
which makes the subscribe-then-snapshot handshake and the resync after a broker reconnect race-free.
A story that leaves the subscriber (it moved to another user) is forgotten, queued updates included.
A client that says which `seq` of a story it holds already (SSE's `Last-Event-ID`) is not sent a
snapshot that is not newer.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable
from uuid import UUID

from domain.errors import Closure
from domain.progress import Frame, ProgressUpdate

WriteNow = Callable[[Frame | str], bool]
Entry = Frame | str


class Offer(enum.Enum):
    SENT = "sent"
    QUEUED = "queued"
    MERGED = "merged"
    STALE = "stale"


class _Slot:
    __slots__ = ("frame",)

    def __init__(self, frame: Frame) -> None:
        self.frame: Frame | None = frame  # None once its story is forgotten


def _never(entry: Entry) -> bool:
    return False


def _nothing() -> None:
    return None


class Outbox:
    __slots__ = (
        "_backlog",
        "_in_flight",
        "_latest",
        "_limit",
        "_on_close",
        "_pending",
        "_queue",
        "_resumed",
        "_texts",
        "_unordered",
        "_write_now",
        "closure",
    )

    def __init__(self, limit: int = 1024) -> None:
        self._latest: dict[UUID, Frame] = {}
        self._queue: deque[_Slot | str] | None = None  # allocated on the first backlog only
        self._pending: dict[UUID, _Slot] = {}
        self._unordered: set[UUID] | None = None
        self._resumed: tuple[UUID, int] | None = None
        self._texts = 0
        self._limit = limit
        self._in_flight = False
        self._write_now: WriteNow = _never
        self._backlog: Callable[[], None] = _nothing
        self._on_close: Callable[[Closure], None] = _nothing_closed
        self.closure: Closure | None = None

    def attach(
        self, write_now: WriteNow, backlog: Callable[[], None], on_close: Callable[[Closure], None]
    ) -> None:
        """Connect the outbox to its socket: `write_now` writes an entry if the socket can take it at
        once, `backlog` asks for a sender, `on_close` ends the session."""
        self._write_now, self._backlog, self._on_close = write_now, backlog, on_close
        if self._queue or self.closure is not None:
            backlog()
        if self.closure is not None:
            on_close(self.closure)

    def offer(self, frame: Frame, *, live: bool = True) -> Offer:
        """Deliver `frame` unless the subscriber holds a newer one; snapshots (`live=False`) must be newer."""
        update = frame.update
        story_id = update.story_id
        held = self._latest.get(story_id)
        if held is not None and (self._unordered is None or story_id not in self._unordered):
            fresh = update.supersedes_live(held.update) if live else update.is_newer_than(held.update)
            if not fresh:
                return Offer.STALE
        elif held is None and not live and self._holds(update):
            return Offer.STALE
        self._latest[story_id] = frame
        if self._unordered is not None:
            self._unordered.discard(story_id)
        if not self._queue and not self._in_flight and self.closure is None and self._write_now(frame):
            return Offer.SENT
        slot = self._pending.get(story_id)
        if slot is not None and slot.frame is not None and slot.frame.update.status is update.status:
            slot.frame = frame
            return Offer.MERGED
        self._enqueue_slot(frame)
        return Offer.QUEUED

    def reset_order(self) -> None:
        """The broker came back and may have lost its data: seqs can start again from 1, so what
        is held no longer decides what is stale; the next update or snapshot of each story is taken."""
        self._unordered = set(self._latest)
        self._resumed = None

    def resume(self, story_id: UUID, seq: int) -> None:
        """The client holds `seq` of the story from an earlier connection: a snapshot at or before
        it is not sent again. Live updates are not held back (they are newer, unless the broker
        lost its data and seqs started again, when they must pass)."""
        self._resumed = (story_id, seq)

    def _holds(self, update: ProgressUpdate) -> bool:
        """Whether the client said it holds this update of the story, or a later one."""
        if self._resumed is None or update.seq is None:
            return False
        story_id, seq = self._resumed
        return update.story_id == story_id and update.seq <= seq

    def resend_latest(self, fresher: Iterable[Frame] = ()) -> int:
        """The `status` command: one message per story held, its latest state. `fresher` are stored
        snapshots, sent in place of the held state where newer (a store written without a publish).
        Returns how many stories are answered."""
        renewed = {f.update.story_id for f in fresher if self.offer(f, live=False) is not Offer.STALE}
        for story_id, frame in self._latest.items():
            if story_id not in renewed and story_id not in self._pending and not self._deliver_now(frame):
                self._enqueue_slot(frame)
        return len(self._latest)

    def forget(self, story_id: UUID) -> None:
        """The story is no longer this subscriber's: what is queued of it is dropped, and `status`
        no longer answers for it."""
        if self._latest.pop(story_id, None) is None:
            return
        if self._unordered is not None:
            self._unordered.discard(story_id)
        if self._pending.pop(story_id, None) is not None and self._queue:
            for slot in self._queue:
                if isinstance(slot, _Slot) and slot.frame and slot.frame.update.story_id == story_id:
                    slot.frame = None

    def push_text(self, text: str) -> None:
        """Control text (`pong`, `ping`, `auth ok`), never merged or dropped; a client that lets more
        than `limit` of them pile up is not reading. (Progress slots need no limit: at most one per
        story and status is queued, since a newer update of the same status takes the slot.)"""
        if self._deliver_now(text):
            return
        self._texts += 1
        self._append(text)
        if self._texts > self._limit:
            self.close(Closure.SLOW_CLIENT)

    def close(self, closure: Closure) -> None:
        """End the connection; the first reason given wins."""
        if self.closure is None:
            self.closure = closure
            self._on_close(closure)

    def held_stories(self) -> list[UUID]:
        return list(self._latest)

    def held_frames(self) -> Iterable[Frame]:
        """The latest state of each story held (a view: read it before anything is offered)."""
        return self._latest.values()

    def pop(self) -> Entry | None:
        """The next queued entry for the sender, which must call `done()` once it is written."""
        while self._queue:
            entry = self._queue.popleft()
            if isinstance(entry, str):
                self._texts -= 1
                self._in_flight = True
                return entry
            if entry.frame is None:  # its story was forgotten
                continue
            story_id = entry.frame.update.story_id
            if self._pending.get(story_id) is entry:
                del self._pending[story_id]
            self._in_flight = True
            return entry.frame
        return None

    def done(self) -> None:
        """The popped entry is written: with nothing queued, offers go straight to the socket again."""
        self._in_flight = False

    def __len__(self) -> int:
        return len(self._queue) if self._queue else 0

    def _deliver_now(self, entry: Entry) -> bool:
        return not self._queue and not self._in_flight and self.closure is None and self._write_now(entry)

    def _enqueue_slot(self, frame: Frame) -> None:
        slot = _Slot(frame)
        self._pending[frame.update.story_id] = slot
        self._append(slot)

    def _append(self, entry: _Slot | str) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(entry)
        if len(self._queue) == 1 and not self._in_flight:
            self._backlog()


def _nothing_closed(closure: Closure) -> None:
    return None
