"""Per-subscriber outbox: progress is state, so a reader that falls behind gets the newest state.

Within one story, a queued update is replaced by a newer one of the same status (conflation);
a change of status, the terminal one included, always gets its own place in the queue. Updates
older than what the subscriber already holds (by `seq`) are dropped, which makes the
subscribe-then-snapshot handshake and the resync after a broker reconnect race-free.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from uuid import UUID

from domain.errors import Closure
from domain.progress import Frame


class Offer(enum.Enum):
    QUEUED = "queued"
    MERGED = "merged"
    STALE = "stale"


class _Slot:
    __slots__ = ("frame",)

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


class Outbox:
    def __init__(self, limit: int = 1024) -> None:
        self._queue: deque[_Slot | str] = deque()
        self._pending: dict[UUID, _Slot] = {}
        self._latest: dict[UUID, Frame] = {}
        self._unordered: set[UUID] = set()
        self._texts = 0
        self._ready = asyncio.Event()
        self._limit = limit
        self.closure: Closure | None = None
        self.popped_at: float | None = None  # `updated_at` (epoch) of the progress message last popped

    def offer(self, frame: Frame, *, live: bool = True) -> Offer:
        """Queue `frame` unless the subscriber holds a newer one; snapshots (`live=False`) must be newer."""
        update = frame.update
        held = self._latest.get(update.story_id)
        if held is not None and update.story_id not in self._unordered:
            fresh = update.supersedes_live(held.update) if live else update.is_newer_than(held.update)
            if not fresh:
                return Offer.STALE
        self._latest[update.story_id] = frame
        self._unordered.discard(update.story_id)
        slot = self._pending.get(update.story_id)
        if slot is not None and slot.frame.update.status is update.status:
            slot.frame = frame
            return Offer.MERGED
        self._enqueue_slot(frame)
        return Offer.QUEUED

    def reset_order(self) -> None:
        """The broker came back and may have lost its data: seqs can start again from 1, so what
        is held no longer decides what is stale; the next update or snapshot of each story is taken."""
        self._unordered = set(self._latest)

    def resend_latest(self) -> int:
        """Queue the held state of every story again (the `status` command); returns how many."""
        count = 0
        for story_id, frame in self._latest.items():
            if story_id not in self._pending:
                self._enqueue_slot(frame)
            count += 1
        return count

    def push_text(self, text: str) -> None:
        """Control text (`pong`, `ping`, `auth ok`), never merged or dropped; a client that lets more
        than `limit` of them pile up is not reading. (Progress slots need no limit: at most one per
        story and status is queued, since a newer update of the same status takes the slot.)"""
        self._texts += 1
        self._append(text)
        if self._texts > self._limit:
            self.close(Closure.SLOW_CLIENT)

    def close(self, closure: Closure) -> None:
        """Ask the sender to end the connection; the first reason given wins."""
        if self.closure is None:
            self.closure = closure
        self._ready.set()

    def held_stories(self) -> list[UUID]:
        return list(self._latest)

    def pop(self) -> str | None:
        if not self._queue:
            self._ready.clear()
            return None
        entry = self._queue.popleft()
        if isinstance(entry, str):
            self._texts -= 1
            self.popped_at = None
            return entry
        self.popped_at = entry.frame.update.updated_at.timestamp()
        story_id = entry.frame.update.story_id
        if self._pending.get(story_id) is entry:
            del self._pending[story_id]
        return entry.frame.text

    async def wait(self) -> None:
        """Until something is queued, the outbox is closed, or `wake` is called."""
        if self._queue or self.closure is not None:
            return
        await self._ready.wait()

    def wake(self) -> None:
        """Let the sender look at its deadlines (keepalive, token expiry) with nothing queued."""
        self._ready.set()

    def __len__(self) -> int:
        return len(self._queue)

    def _enqueue_slot(self, frame: Frame) -> None:
        slot = _Slot(frame)
        self._pending[frame.update.story_id] = slot
        self._append(slot)

    def _append(self, entry: _Slot | str) -> None:
        self._queue.append(entry)
        self._ready.set()
