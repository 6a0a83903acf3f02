"""Cheap timers for per-message paths: `asyncio.timeout()` costs about 8 µs each time it is entered,
which for a fan-out to thousands of sockets is most of the work. These arm one timer per session
and move it only when they must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Alarm:
    """Rings at the earliest deadline asked for; a deadline that moved later costs one early ring."""

    def __init__(self, ring: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._ring = ring
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    def at(self, when: float) -> None:
        if self._handle is not None:
            if self._at <= when:
                return
            self._handle.cancel()
        self._at = when
        self._handle = self._loop.call_at(when, self._rung)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _rung(self) -> None:
        self._handle = None
        self._ring()


class Watchdog:
    """Bites when one operation has been running for `limit` seconds; armed at most once per
    `limit` however many operations start and finish in between."""

    def __init__(self, limit: float, bite: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._bite = bite
        self._handle: asyncio.TimerHandle | None = None
        self._since: float | None = None

    def started(self) -> None:
        self._since = now = self._loop.time()
        if self._handle is None:
            self._handle = self._loop.call_at(now + self._limit, self._check)

    def finished(self) -> None:
        self._since = None

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if self._since is None:
            return
        due = self._since + self._limit
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
        else:
            self._bite()
