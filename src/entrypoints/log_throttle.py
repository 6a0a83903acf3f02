"""Repeated warnings folded into a count, so that a flood of bad input costs a handful of lines.

A warning (or worse) from one call site is written, then its repeats within `window` seconds are
only counted. Once the window is over, one line says how many were suppressed (with the last of
them); it is written before the next line of the process, or at exit. Lines below WARNING are never
suppressed: each connection's lines stay complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 10.0
MAX_SITES = 1_000  # call sites remembered at once; beyond it, the oldest is summed up and forgotten

_Site = tuple[str, int, int]  # the logger's source file, line and level


@dataclass(slots=True)
class _Repeats:
    opened: float
    suppressed: int = 0
    last: logging.LogRecord | None = None


class RepeatThrottle:
    """Decides which records are written, and makes the lines that count the ones that were not.
    Bound: `max_sites` call sites (warnings come from code, so in practice a few dozen)."""

    def __init__(
        self,
        window: float = WINDOW_SECONDS,
        max_sites: int = MAX_SITES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._max_sites = max_sites
        self._clock = clock
        self._sites: dict[_Site, _Repeats] = {}
        self._next_due = float("inf")  # the earliest end of a window that suppressed something

    def admit(self, record: logging.LogRecord) -> tuple[bool, list[logging.LogRecord]]:
        """Whether to write `record`, and the count lines due before it."""
        now = self._clock()
        due = self._due(now) if now >= self._next_due else []
        if record.levelno < logging.WARNING:
            return True, due
        site = (record.pathname, record.lineno, record.levelno)
        repeats = self._sites.get(site)
        if repeats is not None and now - repeats.opened < self._window:
            repeats.suppressed += 1
            repeats.last = record
            self._next_due = min(self._next_due, repeats.opened + self._window)
            return False, due
        if repeats is not None:  # its window is over, and suppressed nothing (else it was due)
            del self._sites[site]
        self._sites[site] = _Repeats(now)
        if len(self._sites) > self._max_sites:
            due.extend(self._forget(next(iter(self._sites))))
        return True, due

    def flush(self) -> list[logging.LogRecord]:
        """The count lines of every open window (at exit)."""
        return [line for site in list(self._sites) for line in self._forget(site)]

    def _due(self, now: float) -> list[logging.LogRecord]:
        due: list[logging.LogRecord] = []
        self._next_due = float("inf")
        for site, repeats in list(self._sites.items()):
            if now - repeats.opened >= self._window:
                due.extend(self._forget(site))
            elif repeats.suppressed:
                self._next_due = min(self._next_due, repeats.opened + self._window)
        return due

    def _forget(self, site: _Site) -> list[logging.LogRecord]:
        repeats = self._sites.pop(site)
        if repeats.last is None:
            return []
        return [_count_line(repeats.last, repeats.suppressed, self._window)]


def _count_line(last: logging.LogRecord, suppressed: int, window: float) -> logging.LogRecord:
    line = logging.LogRecord(
        last.name,
        last.levelno,
        last.pathname,
        last.lineno,
        "%d more like this suppressed within %.0f s; the last: %s",
        (suppressed, window, last.getMessage()),
        None,
    )
    line.suppressed = suppressed
    return line
