"""Reconnect delays: exponential, capped, with jitter so a fleet does not reconnect in step."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.1
    cap: float = 5.0
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        """Half fixed, half random ("equal jitter"): never a hot loop, never in lockstep."""
        ceiling: float = min(self.cap, self.base * 2.0 ** min(attempt, 32))
        return ceiling / 2 + self.rng() * ceiling / 2
