"""Ownership kept true for open connections: checked again every `ttl`, and at once on a revocation.

A story that moved to another user or was deleted closes its story sockets with 4003 `forbidden`
and leaves its former owner's dashboards (nothing more of it reaches them, and `status` no longer
answers for it); the new owner's dashboards are offered its state and get its updates from then
on. A check is one statement for every watched story and every dashboard's user
(`CachingDirectory.confirm`), whatever the number of connections, and it comes a little before
the last answers expire, so that a connect to a watched story never waits for PostgreSQL. When
PostgreSQL does not answer, the last answers stand and the next check tries again.

Revocations that arrive together are checked together, in one statement. Bound: at most
`MAX_REVOKED` (10,000) revoked stories wait for their check; past that, the next check is also of
everything watched here, so that no connection outlives its story's move (a revoked story that
no one here watches then waits for its TTL).
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from domain.access.directory_cache import Answers, CachingDirectory
from domain.aio.tasks import BackgroundTasks
from domain.connection.outbox import Outbox
from domain.errors import Closure, DirectoryUnavailable, FeedUnavailable
from domain.hub.offers import SnapshotOffers
from domain.hub.resync import Resync
from domain.hub.subscribers import Subscribers

logger = logging.getLogger(__name__)

EARLY = 0.9  # checks every 0.9 x ttl: watched stories' answers never expire between two checks
MAX_REVOKED = 10_000


class OwnershipChecks:
    """Registers itself for the directory's changes (`changed`) as it is built."""

    def __init__(
        self,
        directory: CachingDirectory,
        subscribers: Subscribers,
        offers: SnapshotOffers,
        resync: Resync,
        tasks: BackgroundTasks,
    ) -> None:
        self._directory = directory
        self._subscribers = subscribers
        self._offers = offers
        self._resync = resync
        self._tasks = tasks
        self._revoked: set[UUID] = set()
        self._everything = False  # too many revocations at once: check all that is watched
        self._checking: asyncio.Task[None] | None = None
        directory.watch_changes(self.changed)

    async def run_forever(self) -> None:
        """A check that fails for a reason of its own (a bug) is logged, and the next one comes."""
        while True:
            await asyncio.sleep(self._directory.ttl * EARLY)
            try:
                await self.check()
            except Exception:
                logger.exception("ownership check failed")

    async def check(self) -> None:
        """Every story watched here (story sockets, what dashboards hold) and every dashboard's user."""
        by_story, by_user = self._subscribers.by_story, self._subscribers.by_user
        stories = set(by_story)
        for group in by_user.values():
            for outbox in group:
                stories.update(outbox.held_stories())
        if stories or by_user:
            await self._confirm(list(stories), list(by_user))

    def revoked(self, story_id: UUID) -> None:
        """The backend says the story moved or was deleted: ask PostgreSQL now, past every cache."""
        logger.info("story %s revoked: asking for its owner", story_id)
        if len(self._revoked) < MAX_REVOKED:
            self._revoked.add(story_id)
        else:
            self._everything = True
        if self._checking is None or self._checking.done():
            self._checking = self._tasks.spawn(self._check_revoked(), name="revocations")

    async def _check_revoked(self) -> None:
        while self._revoked or self._everything:
            stories, everything = list(self._revoked), self._everything
            self._revoked.clear()
            self._everything = False
            if everything:
                await self.check()
            if stories:
                await self._confirm(stories, [])

    def changed(self, story_id: UUID, former: UUID, owner: UUID | None) -> None:
        """An answer took `story_id` from `former` (the directory cache's callback)."""
        self._close_foreign(story_id, owner)
        for outbox in self._subscribers.by_user.get(former, ()):
            outbox.forget(story_id)
        if owner is not None and (dashboards := self._subscribers.by_user.get(owner)):
            self._tasks.spawn(self._offer_all(list(dashboards), story_id), name="moved-story")

    async def _confirm(self, stories: list[UUID], users: list[UUID]) -> None:
        try:
            await self._directory.confirm(stories, users, self._verify)
        except DirectoryUnavailable as exc:
            logger.warning("ownership check failed, the last answers stand: %s", exc)

    def _verify(self, answers: Answers) -> None:
        """Run with the newest answers, before any later one is applied (see CachingDirectory)."""
        for story_id in [s for s in self._subscribers.by_story if s in answers]:
            self._close_foreign(story_id, answers[story_id])
        for user, group in self._subscribers.by_user.items():
            for outbox in group:
                for story_id in outbox.held_stories():
                    if story_id in answers and answers[story_id] != user:
                        outbox.forget(story_id)

    def _close_foreign(self, story_id: UUID, owner: UUID | None) -> None:
        holder = self._subscribers.story_owners.get(story_id)
        if holder is not None and holder != owner:
            logger.info("story %s moved or was deleted: closing its sockets", story_id)
            for outbox in list(self._subscribers.by_story.get(story_id, ())):
                outbox.close(Closure.FORBIDDEN)

    async def _offer_all(self, dashboards: list[Outbox], story_id: UUID) -> None:
        for outbox in dashboards:
            try:
                await self._offers.offer(outbox, [story_id], "dashboard")
            except FeedUnavailable as exc:
                logger.warning("snapshots unavailable, a resync will send them: %s", exc)
                self._resync.request()
