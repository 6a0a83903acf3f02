"""Story ownership and users' story lists, trusted for `ttl` seconds, so a connect storm costs a few queries.

Wraps any `StoryDirectory`. An answer is trusted for `ttl` seconds (`OWNERSHIP_TTL_SECONDS`), then
asked again. Lookups of one story (or one user's list) share a single query, and those that
arrive together are batched into one statement (`owners_of`). Every read takes its turn, one
statement at a time, and is applied before the next is sent: answers apply in the order asked,
so an old answer never overwrites a newer one. An answer that takes a story from the owner on
record is reported to `watch_changes`' callback (the hub then closes what that owner holds).

When the directory fails, the last answer stands: an owner once confirmed stays served through a
PostgreSQL outage. For `RETRY_SECONDS` after a failure it is given at once, and an expired answer
waits at most `STALE_WAIT` for its re-read.

Bounds: owners of `size` stories (100,000), the story learned longest ago forgotten first; lists of `listed`
story ids in all (200,000), the oldest list forgotten first (a longer list is answered but not
kept); one pending read per story or user being looked up, each ending within the directory's
timeout; the reads waiting for their turn (see `BatchedReads`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from domain.access.story_lists import StoryLists
from domain.aio.batching import BatchedReads
from domain.aio.futures import retrieve
from domain.errors import DirectoryUnavailable
from domain.ports import StoryDirectory

RETRY_SECONDS = 1.0
STALE_WAIT = 0.5
Answers = dict[UUID, UUID | None]  # story -> owner, None where no such story
OnChange = Callable[[UUID, UUID, UUID | None], None]  # story, former owner, new owner (None: gone)
Then = Callable[[Answers], None]


@dataclass(frozen=True, slots=True)
class _Listing:
    """The key of a user's story list among the story ids of a batch."""

    user: UUID


Key = UUID | _Listing


def _unchanged(story: UUID, former: UUID, owner: UUID | None) -> None:
    return None


class CachingDirectory:
    def __init__(
        self,
        directory: StoryDirectory,
        ttl: float = 60.0,
        size: int = 100_000,
        listed: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._directory = directory
        self._size = size
        self._clock = clock
        self._owners: dict[UUID, UUID] = {}  # the last answer per story, first learned first
        self._answered: dict[UUID, float] = {}  # when; one float shared by a whole batch
        self._lists = StoryLists(listed)
        self._pending: dict[Key, asyncio.Future[dict[Key, object]]] = {}
        self._reads: BatchedReads[Key, object] = BatchedReads(
            self._fetch, lambda: DirectoryUnavailable("too many lookups waiting")
        )
        self._turn: asyncio.Lock | None = None
        self._failed_at = -RETRY_SECONDS
        self._on_change: OnChange = _unchanged

    def watch_changes(self, on_change: OnChange) -> None:
        self._on_change = on_change

    async def owner_of(self, story_id: UUID) -> UUID | None:
        owner = self._owners.get(story_id)
        if owner is not None and self._trusted(self._answered[story_id]):
            return owner
        if owner is None:
            found = await self._ask(story_id)
            return found if isinstance(found, UUID) else None
        try:  # an expired answer: asked again, but it stands if the directory fails or is slow
            found = await asyncio.wait_for(self._ask(story_id), STALE_WAIT)
        except (DirectoryUnavailable, TimeoutError):
            return self._owners.get(story_id)  # gone if a newer answer said so meanwhile
        return found if isinstance(found, UUID) else None

    def known_owner(self, story_id: UUID) -> UUID | None:
        """The owner `owner_of` would give without I/O, else None: for the dispatch path."""
        owner = self._owners.get(story_id)
        return owner if owner is not None and self._trusted(self._answered[story_id]) else None

    def last_owner(self, story_id: UUID) -> UUID | None:
        """The last answer however old: who may hold the story here now."""
        return self._owners.get(story_id)

    async def stories_of(self, user_id: UUID) -> Sequence[UUID]:
        listed = self._lists.get(user_id)
        if listed is not None and self._trusted(listed.at):
            return listed.stories
        try:
            found = await self._ask(_Listing(user_id))
        except DirectoryUnavailable:
            if (listed := self._lists.get(user_id)) is None:
                raise
            return listed.stories
        return found if isinstance(found, tuple) else ()

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        """Asked afresh (nothing remembered is used), in turn with every other read."""
        return await self._read(list(story_ids), list(users))

    async def confirm(self, story_ids: Sequence[UUID], users: Sequence[UUID], then: Then) -> None:
        """Ask afresh who owns `story_ids` and every story of `users`, and hand `then` the answers
        (every story asked or listed) before any later answer is applied: the re-check."""
        await self._read(list(story_ids), list(users), then)

    async def ping(self) -> None:
        await self._directory.ping()

    def _trusted(self, answered: float) -> bool:
        now = self._clock()
        return now - answered < self.ttl or now - self._failed_at < RETRY_SECONDS

    async def _ask(self, key: Key) -> object:
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._reads.read([key]))
            pending.add_done_callback(partial(self._settled, key))
        return (await asyncio.shield(pending)).get(key)

    def _settled(self, key: Key, future: asyncio.Future[dict[Key, object]]) -> None:
        retrieve(future)
        if self._pending.get(key) is future:
            del self._pending[key]

    async def _fetch(self, keys: list[Key]) -> dict[Key, object]:
        stories = [k for k in keys if isinstance(k, UUID)]
        users = [k.user for k in keys if isinstance(k, _Listing)]
        found = await self._read(stories, users)
        answers: dict[Key, object] = {s: found[s] for s in stories if s in found}
        lists = _by_owner(found, users)
        for user in users:  # the tuple kept, if it was, so that every dashboard shares one
            kept = self._lists.get(user)
            answers[_Listing(user)] = kept.stories if kept is not None else lists.get(user, ())
        return answers

    async def _read(
        self, stories: list[UUID], users: list[UUID], then: Then | None = None
    ) -> dict[UUID, UUID]:
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            asked = self._clock()
            try:
                found = await self._directory.owners_of(stories, users)
            except DirectoryUnavailable:
                self._failed_at = self._clock()
                raise
            answers = self._apply(stories, users, found, asked)
            if then is not None:
                then(answers)
            return found

    def _apply(
        self, stories: list[UUID], users: list[UUID], found: dict[UUID, UUID], asked: float
    ) -> Answers:
        answers: Answers = dict.fromkeys(stories)
        answers.update(found)
        relisted = set(users)
        for user in users:  # first what left a list: its owner on record is that list's user
            if (previous := self._lists.get(user)) is not None:
                for story in previous.stories:
                    if found.get(story) != user:
                        self._learn(story, found.get(story), asked, relisted, former=user)
        for story, owner in answers.items():
            self._learn(story, owner, asked, relisted)
        lists = _by_owner(found, users)
        for user in relisted:
            self._lists.put(user, lists.get(user, ()), asked)
        return answers

    def _learn(
        self, story: UUID, owner: UUID | None, asked: float, relisted: set[UUID], former: UUID | None = None
    ) -> None:
        old = self._owners.get(story)
        if old is not None and old == owner:  # the common case: the same answer, only newer
            self._answered[story] = asked
            return
        old = old or former
        self._owners.pop(story, None)
        self._answered.pop(story, None)
        if owner is not None:
            self._owners[story], self._answered[story] = owner, asked
            while len(self._owners) > self._size:
                oldest = next(iter(self._owners))
                del self._owners[oldest], self._answered[oldest]
        if old == owner:
            return
        self._lists.move(story, None if old in relisted else old, None if owner in relisted else owner)
        if old is not None:
            self._on_change(story, old, owner)


def _by_owner(found: dict[UUID, UUID], users: list[UUID]) -> dict[UUID, tuple[UUID, ...]]:
    """The stories of each of `users` among `found`."""
    if not users:
        return {}
    lists: dict[UUID, list[UUID]] = {user: [] for user in users}
    for story, owner in found.items():
        if (mine := lists.get(owner)) is not None:
            mine.append(story)
    return {user: tuple(stories) for user, stories in lists.items()}
