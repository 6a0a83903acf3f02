"""A `CachingDirectory` under test: over a fake directory, on a clock the test moves, with the
changes it reports recorded; and a directory whose answers wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from adapters.memory import MemoryStoryDirectory
from domain.access.directory_cache import CachingDirectory
from testkit.waiting import Clock

TTL = 60.0


class GatedDirectory(MemoryStoryDirectory):
    """A directory whose answers wait for `gate`: a query in flight."""

    def __init__(self, owners: dict[UUID, UUID]) -> None:
        super().__init__(owners)
        self.gate = asyncio.Event()

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        found = await super().owners_of(story_ids, users)
        await self.gate.wait()
        return found


Changes = list[tuple[UUID, UUID, UUID | None]]


def cache_over(directory: MemoryStoryDirectory, **options: int) -> tuple[CachingDirectory, Clock, Changes]:
    clock = Clock()
    cached = CachingDirectory(directory, ttl=TTL, clock=clock, **options)
    changes: Changes = []
    cached.watch_changes(lambda story, former, owner: changes.append((story, former, owner)))
    return cached, clock, changes


async def until_asked(directory: MemoryStoryDirectory, count: int) -> None:
    while directory.lookups < count:  # noqa: ASYNC110 (the batch is in flight once it is counted)
        await asyncio.sleep(0)
