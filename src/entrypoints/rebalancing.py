"""Spreading the load again after a worker of `serve --workers N` was replaced.

Connections are long-lived: when a worker dies, its clients reconnect to the survivors before the
replacement listens, and nothing moves them back (372 against 128 sockets on 2 workers; p99 went
from 4 to 15-17 ms). Once the replacement has served for `settle_seconds`, the supervisor reads
the load board and asks the busiest workers to close some sockets with 1012 `rebalance`; their
clients reconnect, and the kernel's SO_REUSEPORT hash spreads them over every worker, the
replacement included. Since a reconnect lands on any of the N workers alike, moving x sockets onto
the replacement takes about N·x closes: each worker over a level L closes what it holds above L,
with L the highest level that leaves the busiest within `target` of the mean.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from entrypoints.worker_place import NOT_SERVING, LoadBoard

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rebalancing:
    settle_seconds: float = 5.0  # after a replacement serves: the dead worker's clients are back
    tolerance: float = 0.2  # nothing is shed unless the busiest holds this much above the mean
    minimum: int = 10  # ... and this many connections
    target: float = 0.05  # afterwards the busiest should hold at most this much above the mean


def shed_orders(counts: list[int], policy: Rebalancing) -> list[int]:
    """How many connections each worker should close (all zero when the load is even enough)."""
    mean = sum(counts) / len(counts)
    if max(counts) - mean < max(policy.minimum, policy.tolerance * mean):
        return [0] * len(counts)
    goal = mean * (1 + policy.target)

    def busiest_after(level: int) -> float:
        shed = sum(max(0, count - level) for count in counts)
        return min(max(counts), level) + shed / len(counts)

    low, high = min(counts), max(counts)  # busiest_after(low) is the mean: within the goal
    while low < high:
        level = (low + high + 1) // 2
        low, high = (level, high) if busiest_after(level) <= goal else (low, level - 1)
    return [max(0, count - low) for count in counts]


class Rebalancer:
    """The supervisor's side of the load board: `vacate` a slot, `replaced` when a replacement
    serves, `tick` from its loop."""

    def __init__(self, board: LoadBoard, policy: Rebalancing) -> None:
        self._board, self._policy = board, policy
        self._due: float | None = None

    @property
    def due(self) -> float | None:
        """When `tick` has work to do (a monotonic time), or None."""
        return self._due

    def vacate(self, slot: int) -> None:
        """No worker serves in `slot` now (before a fork, after an exit): its load reads
        `NOT_SERVING` until its worker reports, and no rebalancing happens meanwhile."""
        self._board.vacate(slot)

    def replaced(self) -> None:
        self._due = time.monotonic() + self._policy.settle_seconds

    def tick(self) -> None:
        if self._due is None or time.monotonic() < self._due:
            return
        counts = self._board.connections()
        if NOT_SERVING in counts:  # a worker is starting (or died again): wait for it
            self._due = time.monotonic() + self._policy.settle_seconds
            return
        self._due = None
        orders = shed_orders(counts, self._policy)
        if any(orders):
            logger.info("rebalancing connections %s: closing %s with 1012", counts, orders)
            for slot, shed in enumerate(orders):
                if shed:
                    self._board.order(slot, shed)
