"""What the sync and asyncio heartbeats share: the setting, the key's TTL, the refresh time, and
the one warning per outage.

While a story's block is open, the SDK refreshes the story's liveness key (`keys.alive`) every
`heartbeat_seconds`, with a TTL of three times that, so one late or lost refresh does not let it
expire; the same round trip tells whether the gateway recorded a cancel (`keys.cancel`).
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

logger = logging.getLogger("codestory_progress_worker.heartbeat")

DEFAULT_HEARTBEAT_SECONDS = 5.0
TTL_FACTOR = 3  # the liveness key outlives two missed refreshes


def heartbeat_interval(heartbeat_seconds: float | None) -> float | None:
    """The checked setting: seconds between refreshes, or None when heartbeats are off (0 or None)."""
    if heartbeat_seconds is None or heartbeat_seconds == 0:
        return None
    if isinstance(heartbeat_seconds, bool) or not isinstance(heartbeat_seconds, int | float):
        raise ValueError(f"heartbeat_seconds must be a number of seconds, not {heartbeat_seconds!r}")
    if not 0 < heartbeat_seconds <= 3600:
        raise ValueError(
            f"heartbeat_seconds must be from 0 to 3600 (0 turns it off), not {heartbeat_seconds}"
        )
    return float(heartbeat_seconds)


def ttl_ms(interval: float) -> int:
    """The liveness key's TTL in milliseconds for refreshes every `interval` seconds."""
    return max(1, round(interval * TTL_FACTOR * 1000))


def now_ms() -> int:
    """The refresh time stored in the liveness key: milliseconds since the epoch, the worker's clock."""
    return time.time_ns() // 1_000_000


class Outage:
    """One story's heartbeat errors: a WARNING when refreshes start failing, nothing more until one
    succeeds again (then an INFO), so a Redis that is down for minutes logs two lines, not hundreds."""

    def __init__(self, story_id: UUID) -> None:
        self._story_id = story_id
        self.failing = False

    def failed(self, error: Exception) -> None:
        if self.failing:
            logger.debug("story %s: heartbeat still failing: %r", self._story_id, error)
            return
        self.failing = True
        logger.warning(
            "story %s: heartbeat failed (%s); the worker goes on, retrying each interval",
            self._story_id,
            type(error).__name__,
        )

    def succeeded(self) -> None:
        if self.failing:
            self.failing = False
            logger.info("story %s: heartbeat back", self._story_id)
