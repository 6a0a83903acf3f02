"""The client's rules, pure: what each close code means, the backoff, the `seq` filter, renewal time.

The same rules as the browser client (`js/client.js`), so both behave alike on every close;
a test of the gateway's repository holds the two equal.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

# 1000 and 1005 count as retryable only because the client itself never closes before it stops:
# a proxy that closes an idle socket must not end the stream. 4029: the user holds too many
# connections on that gateway process; one may close meanwhile, so retry, with backoff.
RETRYABLE_CODES = frozenset({1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4008, 4029})
AUTH_CODES = frozenset({4001, 4003})


class CloseAction(enum.Enum):
    RECONNECT = "reconnect"
    AUTH_ERROR = "auth_error"
    STOP = "stop"


def action_for(code: int) -> CloseAction:
    """4001/4003 need a new token or story; retryable codes reconnect; anything else is a client bug."""
    if code in AUTH_CODES:
        return CloseAction.AUTH_ERROR
    return CloseAction.RECONNECT if code in RETRYABLE_CODES else CloseAction.STOP


@dataclass(frozen=True, slots=True)
class Backoff:
    """min + full jitter over a window that doubles each attempt, capped: never a hot loop, and a
    fleet of clients that lost one server does not come back in step."""

    min_delay: float = 0.5
    max_delay: float = 20.0
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt `attempt` (0 is the first)."""
        window = min(self.max_delay, self.min_delay * 2.0 ** min(attempt, 30))
        return min(self.max_delay, self.min_delay + self.rng() * window)


def is_newer(held: tuple[int, bool] | None, seq: int, stalled: bool) -> bool:
    """The seq rule against the `(seq, stalled)` held: a higher seq, or the same seq with only
    `stalled` changed (the gateway's judgement of the state held, not a new state)."""
    if held is None:
        return True
    return seq > held[0] or (seq == held[0] and stalled != held[1])


class SeqFilter:
    """Keeps per story the newest `seq` held, and its `stalled` flag. After a reconnect the first
    update of each story is the server's snapshot and is taken even with a lower `seq` (Redis may
    have lost its counters). Bound: one entry per story the stream has seen, as the stream's own
    state of those stories (a dashboard sees its user's stories)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, bool]] = {}
        self._seen: set[str] = set()

    def reconnected(self) -> None:
        self._seen.clear()

    def accept(self, story_id: str, seq: int | None, stalled: bool = False) -> bool:
        first = story_id not in self._seen
        self._seen.add(story_id)
        if seq is None:  # a legacy publisher: arrival order
            return True
        if not first and not is_newer(self._held.get(story_id), seq, stalled):
            return False
        self._held[story_id] = (seq, stalled)
        return True


def token_expiry(token: str) -> float | None:
    """The JWT's `exp` (seconds since the epoch), read without verifying: only to plan a renewal."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def renewal_delay(exp: float, now: float, renew_before: float = 15.0) -> float:
    """Seconds from `now` until the renewal: `renew_before` ahead of `exp`, or half-way through the
    token's remaining life if that is sooner (short-lived tokens)."""
    left = exp - now
    return max(0.0, left - min(renew_before, left / 2))
