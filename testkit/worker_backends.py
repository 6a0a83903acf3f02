"""Backends of the worker SDK in memory, for unit tests of the reporters: `RecordingBackend` (sync;
the asyncio reporter also runs on the demo's `BrokerBackend` over the gateway's `MemoryBroker`),
and `BeatingBackend` / `AsyncBeatingBackend`, which add the heartbeat and a cancel on demand."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any
from uuid import UUID

from codestory_progress_worker import Receipt


class RecordingBackend:
    """A complete `Backend`: the publish script's seq per story, every update as published (with its
    seq), revocations, and a failure on demand (`failing`). It holds what a test publishes: a
    test's handful of updates, no bound needed."""

    def __init__(self, *, requires_owner: bool = False) -> None:
        self.requires_owner = requires_owner
        self.published: list[dict[str, Any]] = []
        self.owners: list[UUID | None] = []
        self.revoked: list[UUID] = []
        self.failing: Exception | None = None
        self.closed = False
        self.cancelled: set[UUID] = set()  # stories whose cancel key "exists"
        self._seq: Counter[UUID] = Counter()

    def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        if self.failing is not None:
            raise self.failing
        if owner is None and self.requires_owner:
            raise ValueError("this backend needs the owner")
        self._seq[story_id] += 1
        self.published.append({**json.loads(body), "seq": self._seq[story_id]})
        self.owners.append(owner)
        return Receipt(self._seq[story_id], story_id in self.cancelled)

    def revoke(self, story_id: UUID) -> int:
        self.revoked.append(story_id)
        return 1

    def close(self) -> None:
        self.closed = True

    def steps(self) -> list[tuple[str, int, str]]:
        return [(u["status"], u["progress_percent"], u["current_step"]) for u in self.published]


class BeatingBackend(RecordingBackend):
    """A `RecordingBackend` with the heartbeat: each refresh recorded with its TTL, failing while
    `beat_failing` is set, taking `beat_seconds` (a slow Redis), and counting refreshes in flight
    at once (`most_at_once`: 1 unless two overlapped). Its lists hold a test's few dozen refreshes."""

    def __init__(self, *, requires_owner: bool = False, beat_seconds: float = 0.0) -> None:
        super().__init__(requires_owner=requires_owner)
        self.beats: list[tuple[UUID, int]] = []
        self.beat_failing: Exception | None = None
        self.beat_seconds = beat_seconds
        self.most_at_once = 0
        self.attempts = 0  # refreshes begun, failed ones included
        self._in_flight = 0
        self._lock = threading.Lock()

    def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        self.entered()
        try:
            if self.beat_seconds:
                time.sleep(self.beat_seconds)  # a slow round trip, inside the fake Redis
            return self.refreshed(story_id, ttl_ms)
        finally:
            self.left()

    def entered(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.attempts += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)

    def left(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def refreshed(self, story_id: UUID, ttl_ms: int) -> bool:
        """The refresh itself: recorded, or `beat_failing` raised; answers the cancel."""
        if self.beat_failing is not None:
            raise self.beat_failing
        self.beats.append((story_id, ttl_ms))
        return story_id in self.cancelled


class AsyncBeatingBackend:
    """The asyncio face of a `BeatingBackend` (a complete `AsyncBackend` with the heartbeat)."""

    def __init__(self, inner: BeatingBackend) -> None:
        self.inner = inner
        self.requires_owner = inner.requires_owner

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        return self.inner.publish(story_id, owner, body)

    async def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        self.inner.entered()
        try:
            if self.inner.beat_seconds:
                await asyncio.sleep(self.inner.beat_seconds)  # a slow round trip, inside the fake Redis
            return self.inner.refreshed(story_id, ttl_ms)
        finally:
            self.inner.left()

    async def revoke(self, story_id: UUID) -> int:
        return self.inner.revoke(story_id)

    async def aclose(self) -> None:
        self.inner.close()
