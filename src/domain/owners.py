"""Routing of updates to dashboards by story owner, with each owner looked up once.

Ownership never changes, so owners are cached (bounded). An update whose owner is unknown waits
for one lookup, together with the updates of the same story that arrive meanwhile, so dashboards
still see them in order and the dispatch loop never waits for the directory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from domain.errors import DirectoryUnavailable
from domain.ports import StoryDirectory
from domain.progress import Frame

logger = logging.getLogger(__name__)

Deliver = Callable[[UUID, Frame], None]
Spawn = Callable[[Coroutine[Any, Any, None]], None]


class OwnerCache:
    def __init__(
        self,
        directory: StoryDirectory,
        deliver: Deliver,
        *,
        size: int = 100_000,
        unknown_ttl: float = 5.0,
        timeout: float = 1.5,
    ) -> None:
        self._directory = directory
        self._deliver = deliver
        self._size = size
        self._unknown_ttl = unknown_ttl
        self._timeout = timeout
        self._owners: dict[UUID, UUID] = {}
        self._unknown: dict[UUID, float] = {}
        self._waiting: dict[UUID, list[Frame]] = {}

    def remember(self, story_id: UUID, owner: UUID) -> None:
        self._owners[story_id] = owner
        self._unknown.pop(story_id, None)
        _trim(self._owners, self._size)

    def route(self, frame: Frame, spawn: Spawn) -> None:
        story_id = frame.update.story_id
        owner = self._owners.get(story_id)
        if owner is not None:
            self._deliver(owner, frame)
        elif story_id in self._waiting:
            self._waiting[story_id].append(frame)
        elif self._unknown.get(story_id, 0.0) <= asyncio.get_running_loop().time():
            self._waiting[story_id] = [frame]
            spawn(self._resolve(story_id))

    async def _resolve(self, story_id: UUID) -> None:
        owner: UUID | None = None
        try:
            async with asyncio.timeout(self._timeout):
                owner = await self._directory.owner_of(story_id)
        except (DirectoryUnavailable, TimeoutError) as exc:
            logger.warning("owner of story %s unknown, dashboards miss an update: %r", story_id, exc)
        frames = self._waiting.pop(story_id, [])
        if owner is None:
            self._unknown[story_id] = asyncio.get_running_loop().time() + self._unknown_ttl
            _trim(self._unknown, self._size)
            return
        self.remember(story_id, owner)
        for frame in frames:
            self._deliver(owner, frame)


def _trim(entries: dict[UUID, Any], size: int) -> None:
    """Forget the oldest entries (dicts keep insertion order) once over `size`."""
    while len(entries) > size:
        del entries[next(iter(entries))]
