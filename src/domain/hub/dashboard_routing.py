"""Routing of updates to dashboards by story owner, the owner as the directory says (CachingDirectory).

An update whose owner is not known (or no longer trusted) waits for the lookup, together with
the updates of the same story that arrive meanwhile, so dashboards see them in order and the
dispatch loop never waits for the directory. A story the directory does not know yet (its row
not committed or not replicated) is looked up again with backoff, so its dashboard still ends
holding its latest state. An update heard on an owner's channel (cluster mode) names the owner
it claims; it reaches that owner's dashboards only where the directory agrees.

Bound (`RoutingLimits`): updates of at most `max_stories_waiting` stories (100,000) wait for a
lookup, at most `max_waiting` (32) each: over that, each run of one status keeps only its last
update, so every status change survives; an update of one more story skips dashboards (logged).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol
from uuid import UUID

from domain.access.directory_cache import CachingDirectory
from domain.aio.backoff import Backoff
from domain.aio.tasks import BackgroundTasks
from domain.errors import DirectoryUnavailable
from domain.progress import Frame, StoryStatus

logger = logging.getLogger(__name__)

Waiting = tuple[Frame, UUID | None]  # an update, and the owner its channel claims (cluster mode)


class OwnerDelivery(Protocol):
    def to_owner(self, owner: UUID, frame: Frame) -> None:
        """`frame` to `owner`'s dashboards here (`Subscribers`)."""
        ...


@dataclass(frozen=True, slots=True)
class RoutingLimits:
    """How much may wait for lookups (see the module's bound), and how a lookup is retried."""

    max_stories_waiting: int = 100_000
    max_waiting: int = 32
    attempts: int = 6
    timeout: float = 1.5
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=16.0))


class DashboardRouter:
    def __init__(
        self,
        directory: CachingDirectory,
        deliver: OwnerDelivery,
        tasks: BackgroundTasks,
        limits: RoutingLimits | None = None,
    ) -> None:
        self._directory = directory
        self._deliver = deliver
        self._tasks = tasks
        self._limits = limits or RoutingLimits()
        self._waiting: dict[UUID, list[Waiting]] = {}

    @property
    def stories_waiting(self) -> int:
        return len(self._waiting)

    def waiting_updates(self, story_id: UUID) -> list[tuple[StoryStatus, int | None]]:
        """What waits for the lookup of `story_id`: (status, seq), oldest first."""
        return [(frame.update.status, frame.update.seq) for frame, _ in self._waiting.get(story_id, [])]

    def route(self, frame: Frame, claimed: UUID | None = None) -> None:
        """To the owner's dashboards; with `claimed`, only if the directory says it is the owner."""
        story_id = frame.update.story_id
        if (waiting := self._waiting.get(story_id)) is not None:  # behind a lookup: keep the order
            waiting.append((frame, claimed))
            _compact(waiting, self._limits.max_waiting)
        elif (owner := self._directory.known_owner(story_id)) is not None:
            if claimed is None or claimed == owner:
                self._deliver.to_owner(owner, frame)
        elif len(self._waiting) < self._limits.max_stories_waiting:
            self._waiting[story_id] = [(frame, claimed)]
            self._tasks.spawn(self._resolve(story_id), name="owner-lookup")
        else:
            logger.warning("too many stories of unknown owner; dashboards miss story %s", story_id)

    async def _resolve(self, story_id: UUID) -> None:
        """Look the owner up, retrying with backoff while the directory does not know the story."""
        try:
            for attempt in range(self._limits.attempts):
                if (owner := await self._lookup(story_id)) is not None:
                    for frame, claimed in self._waiting.pop(story_id, []):
                        if claimed is None or claimed == owner:
                            self._deliver.to_owner(owner, frame)
                    return
                await asyncio.sleep(self._limits.backoff.delay(attempt))
            logger.warning("no owner found for story %s; its updates skip dashboards", story_id)
        finally:
            self._waiting.pop(story_id, None)

    async def _lookup(self, story_id: UUID) -> UUID | None:
        try:
            async with asyncio.timeout(self._limits.timeout):
                return await self._directory.owner_of(story_id)
        except (DirectoryUnavailable, TimeoutError) as exc:
            logger.warning("owner of story %s not known yet: %r", story_id, exc)
            return None


def _compact(waiting: list[Waiting], limit: int) -> None:
    """Over `limit`, keep the last update of each run of one status (and claimed owner)."""
    if len(waiting) <= limit:
        return
    kept = [
        entry
        for entry, after in pairwise(waiting)
        if (entry[0].update.status, entry[1]) != (after[0].update.status, after[1])
    ]
    waiting[:] = [*kept, waiting[-1]][-limit:]
