"""One timer for many deadlines: a member asks to be visited at a time, and is, at the first tick
(every `tick` seconds) at or after it. Thousands of connections with a deadline each then cost one
timer handle and one set entry each, instead of a handle per connection re-armed on every event.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol


class Visited(Protocol):
    """A member of a `Wheel`. `wheel_slot` belongs to the wheel (0: not scheduled)."""

    wheel_slot: int

    def visit(self, now: float) -> float | None:
        """Do what is due at `now`; return when to be visited next, or None."""
        ...


class Wheel:
    """Visits members at a resolution of `tick` seconds; an earlier request moves a member, a later
    one is kept for its next visit to answer. Bound: each scheduled member sits in exactly one slot,
    so the wheel holds one entry per member that asked (at most the open connections), and a slot
    per tick that some member is due in."""

    __slots__ = ("_armed", "_buckets", "_done", "_handle", "_loop", "_tick")

    def __init__(self, tick: float) -> None:
        self._tick = tick
        self._buckets: dict[int, set[Visited]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # bound on first use, inside the loop
        self._handle: asyncio.TimerHandle | None = None
        self._armed = 0  # the slot the timer rings for
        self._done = 0  # the last slot visited: a member is never put back into a slot already passed

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())

    def visit_at(self, member: Visited, when: float) -> None:
        slot = max(math.ceil(when / self._tick), self._done + 1)
        current = member.wheel_slot
        if current:
            if current <= slot:
                return
            self._drop(member, current)
        member.wheel_slot = slot
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = set()
        bucket.add(member)
        if self._handle is None or slot < self._armed:
            self._arm(slot)

    def forget(self, member: Visited) -> None:
        if member.wheel_slot:
            self._drop(member, member.wheel_slot)
            member.wheel_slot = 0

    def _drop(self, member: Visited, slot: int) -> None:
        bucket = self._buckets.get(slot)
        if bucket is not None:
            bucket.discard(member)
            if not bucket:
                del self._buckets[slot]

    def _arm(self, slot: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._armed = slot
        self._handle = self._loop.call_at(slot * self._tick, self._ring)

    def _ring(self) -> None:
        self._handle = None
        now = self._loop.time() if self._loop is not None else 0.0
        limit = max(self._armed, math.floor(now / self._tick))
        for slot in sorted(slot for slot in self._buckets if slot <= limit):
            self._done = slot
            for member in self._buckets.pop(slot):
                member.wheel_slot = 0
                if (when := member.visit(now)) is not None:
                    self.visit_at(member, when)
        self._done = max(self._done, limit)
        if self._buckets and self._handle is None:
            self._arm(min(self._buckets))
