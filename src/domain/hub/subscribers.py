"""Who watches what in this process: the one home of the subscriber bookkeeping, and of the fan-out.

Story sessions are indexed by story, dashboards by user; `story_owners` says whose story sockets
each watched story's are (the ownership checks close them when that changes). Updates are fanned
out through these indexes (`deliver`, `to_owner`), the resync walks them, and a shutdown closes
every outbox, including those of sessions that are still starting. Bound: one entry per story or
user watched here, so by the connections.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from domain.connection.outbox import Offer, Outbox
from domain.errors import Closure
from domain.ports import DeliveryMetrics
from domain.progress import Frame

Index = dict[UUID, set[Outbox]]


class Subscribers:
    def __init__(self, metrics: DeliveryMetrics) -> None:
        self.by_story: Index = {}
        self.by_user: Index = {}
        self.story_owners: dict[UUID, UUID] = {}
        self._metrics = metrics
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

    def close_some(self, count: int, closure: Closure) -> int:
        """End `count` sessions (any of them) with `closure`; returns how many."""
        outboxes = self.all()[:count]
        for outbox in outboxes:
            outbox.close(closure)
        return len(outboxes)

    def reset_order(self) -> None:
        for outbox in self.all():
            outbox.reset_order()

    def deliver(self, outboxes: Iterable[Outbox], frame: Frame, endpoint: str) -> None:
        """Offer a live update to each outbox, in one pass, counted once for all of them."""
        sent = merged = 0
        for outbox in outboxes:
            offer = outbox.offer(frame)
            if offer is Offer.SENT:
                sent += 1
            elif offer is Offer.MERGED:
                merged += 1
        if sent:
            self._metrics.sent(endpoint, sent)
            self._metrics.written(frame.lag())
        if merged:
            self._metrics.updates_merged(merged)

    def to_owner(self, owner: UUID, frame: Frame) -> None:
        """A story's update to its owner's dashboards here (the router has found the owner)."""
        if dashboards := self.by_user.get(owner):
            self.deliver(dashboards, frame, "dashboard")
