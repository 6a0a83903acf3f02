"""Cancel: the gateway's answers (docs/protocol.md), and the requests of one socket awaiting them.

A story socket sends `cancel` and hears `cancel ok` or `cancel refused <reason>`; a dashboard
sends `cancel <story_id>` and hears `cancel ok <story_id>` or `cancel refused <story_id> <reason>`.
The browser client parses the same texts alike (a test holds them equal).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass

MAX_PENDING = 32  # requests of one socket awaiting their answers; beyond, refused at once


class CancelRefusal(enum.Enum):
    """Why a cancel was refused: the story ended (`terminal`), is not the token's user's
    (`forbidden`, also a missing or bad token over SSE), or the gateway could not record it now
    (`unavailable`, also no open socket, or no answer before the socket closed)."""

    TERMINAL = "terminal"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class CancelResult:
    """`ok`: the gateway recorded the request; the story ends `failed` once its worker learns."""

    ok: bool
    reason: CancelRefusal | None = None


CANCELLED = CancelResult(ok=True)
UNAVAILABLE = CancelResult(ok=False, reason=CancelRefusal.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    story_id: str | None  # named on a dashboard
    result: CancelResult


def parse_cancel_answer(text: str) -> CancelAnswer | None:
    """The answer in a text frame, or None for any other text (an unknown reason included)."""
    words = text.split(" ")
    if len(words) < 2 or words[0] != "cancel":
        return None
    if words[1] == "ok" and len(words) <= 3:
        return CancelAnswer(words[2] if len(words) == 3 else None, CANCELLED)
    if words[1] != "refused" or len(words) not in (3, 4):
        return None
    try:
        reason = CancelRefusal(words[-1])
    except ValueError:
        return None
    return CancelAnswer(words[2] if len(words) == 4 else None, CancelResult(False, reason))


class PendingCancels:
    """The requests sent on one socket, answered in order per story. Bound: `MAX_PENDING`."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[str | None, asyncio.Future[CancelResult]]] = deque()

    def expect(self, story_id: str | None) -> asyncio.Future[CancelResult] | None:
        """A future for the answer about `story_id` (None on a story socket); None when full."""
        if len(self._waiting) >= MAX_PENDING:
            return None
        future: asyncio.Future[CancelResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((story_id, future))
        return future

    def answered(self, answer: CancelAnswer) -> None:
        for entry in self._waiting:
            if entry[0] == answer.story_id and not entry[1].done():
                entry[1].set_result(answer.result)
                self._waiting.remove(entry)
                return

    def forget(self, future: asyncio.Future[CancelResult]) -> None:
        self._waiting = deque(entry for entry in self._waiting if entry[1] is not future)

    def closed(self) -> None:
        """The socket is gone: whatever was not answered is `unavailable` (a repeat is safe)."""
        for _, future in self._waiting:
            if not future.done():
                future.set_result(UNAVAILABLE)
        self._waiting.clear()
