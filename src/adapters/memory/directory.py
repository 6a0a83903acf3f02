"""The in-memory story directory: who owns which story, as the `stories` table would say."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.errors import DirectoryUnavailable


class MemoryStoryDirectory:
    def __init__(self, owners: dict[UUID, UUID] | None = None) -> None:
        self.owners: dict[UUID, UUID] = dict(owners or {})
        self._down = False
        self.lookups = 0

    def add(self, story_id: UUID, owner: UUID) -> None:
        self.owners[story_id] = owner

    async def owner_of(self, story_id: UUID) -> UUID | None:
        self._check()
        self.lookups += 1
        return self.owners.get(story_id)

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        self._check()
        self.lookups += 1
        found = {s: self.owners[s] for s in story_ids if s in self.owners}
        if users:
            listed = set(users)
            found.update({s: owner for s, owner in self.owners.items() if owner in listed})
        return found

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        self._check()
        return [story for story, owner in self.owners.items() if owner == user_id]

    async def ping(self) -> None:
        self._check()

    def fail(self) -> None:
        self._down = True

    def recover(self) -> None:
        self._down = False

    def _check(self) -> None:
        if self._down:
            raise DirectoryUnavailable("memory directory is down")
