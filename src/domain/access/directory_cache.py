"""Story ownership, remembered: it never changes, and a reconnect storm must not become a query storm.

Wraps any `StoryDirectory`. Owners found are kept (bounded, oldest forgotten first), concurrent
lookups of one story share a single query, and lookups of different stories that arrive together
are batched into one (`owners_of`), so a thousand clients reconnecting after a deploy cost a
handful of round trips to PostgreSQL, not a thousand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from domain.aio.batching import BatchedReads
from domain.aio.futures import retrieve
from domain.ports import StoryDirectory


class CachingDirectory:
    def __init__(self, directory: StoryDirectory, size: int = 100_000) -> None:
        self._directory = directory
        self._size = size
        self._reads: BatchedReads[UUID, UUID] = BatchedReads(directory.owners_of)
        self._owners: dict[UUID, UUID] = {}
        self._pending: dict[UUID, asyncio.Future[UUID | None]] = {}

    async def owner_of(self, story_id: UUID) -> UUID | None:
        if (owner := self._owners.get(story_id)) is not None:
            return owner
        if (pending := self._pending.get(story_id)) is None:
            pending = self._pending[story_id] = asyncio.ensure_future(self._look_up(story_id))
            pending.add_done_callback(retrieve)
        return await asyncio.shield(pending)

    def known_owner(self, story_id: UUID) -> UUID | None:
        """Without I/O: for the dispatch path, which must never wait."""
        return self._owners.get(story_id)

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        stories = await self._directory.stories_of(user_id)
        for story_id in stories:
            self.remember(story_id, user_id)
        return stories

    async def ping(self) -> None:
        await self._directory.ping()

    async def owners_of(self, story_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        return {s: owner for s in story_ids if (owner := await self.owner_of(s)) is not None}

    async def _look_up(self, story_id: UUID) -> UUID | None:
        try:
            owner = (await self._reads.read([story_id])).get(story_id)
        finally:
            del self._pending[story_id]
        if owner is not None:
            self.remember(story_id, owner)
        return owner

    def remember(self, story_id: UUID, owner: UUID) -> None:
        self._owners[story_id] = owner
        while len(self._owners) > self._size:
            del self._owners[next(iter(self._owners))]
