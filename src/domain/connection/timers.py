"""A cheap timer for a session's deadlines: `asyncio.timeout()` costs about 8 µs each time it is
entered, which for a fan-out to thousands of sockets would be most of the work. This arms one
timer per session and moves it only when it must.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Alarm:
    """Rings at the earliest deadline asked for; a deadline that moved later costs one early ring."""

    __slots__ = ("_at", "_handle", "_loop", "_ring")

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
