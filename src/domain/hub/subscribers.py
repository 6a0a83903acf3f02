"""Who watches what in this process: the one home of the subscriber bookkeeping.

Story sessions are indexed by story, dashboards by user; `story_owners` says whose story sockets
each watched story's are (the ownership checks close them when that changes). The hub fans updates
out through these indexes, the resync walks them, and a shutdown closes every outbox, including
those of sessions that are still starting. Bound: one entry per story or user watched here, so
by the connections.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from domain.connection.outbox import Offer, Outbox
from domain.errors import Closure
from domain.progress import Frame

Index = dict[UUID, set[Outbox]]


class Subscribers:
    def __init__(self) -> None:
        self.by_story: Index = {}
        self.by_user: Index = {}
        self.story_owners: dict[UUID, UUID] = {}
        self._closing: Closure | None = None

    def add(self, index: Index, key: UUID, outbox: Outbox) -> None:
        """Register `outbox` under `key` of `by_story` or `by_user` (plain calls, not a context
        manager: a generator per connection costs memory that thousands of connections feel)."""
        if self._closing is not None:
            outbox.close(self._closing)
        group = index.get(key)
        if group is None:
            group = index[key] = set()
        group.add(outbox)

    def remove(self, index: Index, key: UUID, outbox: Outbox) -> None:
        group = index.get(key)
        if group is not None:
            group.discard(outbox)
            if not group:
                del index[key]

    def all(self) -> list[Outbox]:
        return [o for index in (self.by_story, self.by_user) for group in index.values() for o in group]

    def __len__(self) -> int:
        return sum(len(group) for index in (self.by_story, self.by_user) for group in index.values())

    def close_all(self, closure: Closure) -> int:
        """End every session, and every one that starts from now on, with `closure`."""
        self._closing = closure
        outboxes = self.all()
        for outbox in outboxes:
            outbox.close(closure)
        return len(outboxes)

    def reset_order(self) -> None:
        for outbox in self.all():
            outbox.reset_order()


def fan_out(outboxes: Iterable[Outbox], frame: Frame) -> tuple[int, int]:
    """Offer `frame` to each outbox: (written at once, merged into a backlog)."""
    sent = merged = 0
    for outbox in outboxes:
        offer = outbox.offer(frame)
        if offer is Offer.SENT:
            sent += 1
        elif offer is Offer.MERGED:
            merged += 1
    return sent, merged
