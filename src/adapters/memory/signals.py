"""The in-memory `WorkerSignals`: liveness values a test or the demo's worker sets, and the cancels
recorded (the first request of a story stands, as SET NX) and signalled, as Redis would hold them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from domain.errors import FeedUnavailable
from domain.values import CancelRequest


class MemoryWorkerSignals:
    def __init__(self) -> None:
        self.alive: dict[UUID, int] = {}
        self.cancels: dict[UUID, CancelRequest] = {}
        self.signalled: list[UUID] = []  # every cancel signal, repeats included
        self.reads = 0  # liveness round trips
        self._listeners: list[Callable[[UUID], None]] = []
        self._down = False

    def heartbeat(self, story_id: UUID, at_ms: int) -> None:
        """What a worker's heartbeat does: the liveness key holds its refresh time."""
        self.alive[story_id] = at_ms

    def expire(self, story_id: UUID) -> None:
        """The liveness key's TTL ran out (the worker died)."""
        self.alive.pop(story_id, None)

    def on_cancel(self, listener: Callable[[UUID], None]) -> None:
        """Hear each cancel signal (a subscribed worker)."""
        self._listeners.append(listener)

    async def liveness(self, story_ids: Sequence[UUID]) -> list[int | None]:
        self._check()
        self.reads += 1
        return [self.alive.get(s) for s in story_ids]

    async def cancel(self, request: CancelRequest) -> None:
        self._check()
        self.cancels.setdefault(request.story_id, request)
        self.signalled.append(request.story_id)
        for listener in self._listeners:
            listener(request.story_id)

    def fail(self) -> None:
        self._down = True

    def recover(self) -> None:
        self._down = False

    def _check(self) -> None:
        if self._down:
            raise FeedUnavailable("memory signals are down")
