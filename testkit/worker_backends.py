"""A sync backend of the worker SDK in memory, for unit tests of the sync reporter (the asyncio one
runs on the demo's `BrokerBackend` over the gateway's `MemoryBroker`)."""

from __future__ import annotations

import json
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
        self._seq: Counter[UUID] = Counter()

    def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        if self.failing is not None:
            raise self.failing
        if owner is None and self.requires_owner:
            raise ValueError("this backend needs the owner")
        self._seq[story_id] += 1
        self.published.append({**json.loads(body), "seq": self._seq[story_id]})
        self.owners.append(owner)
        return Receipt(self._seq[story_id])

    def revoke(self, story_id: UUID) -> int:
        self.revoked.append(story_id)
        return 1

    def close(self) -> None:
        self.closed = True

    def steps(self) -> list[tuple[str, int, str]]:
        return [(u["status"], u["progress_percent"], u["current_step"]) for u in self.published]
