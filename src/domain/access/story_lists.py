"""Users' story lists as the directory last gave them, kept true by every later answer about a story.

One tuple per user, shared by every dashboard of that user that connects while it is trusted.

Bound: `limit` story ids in all lists together; the oldest list is forgotten first, and a list
longer than `limit` is not kept at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(slots=True)
class Listed:
    stories: tuple[UUID, ...]
    at: float  # when the directory answered


class StoryLists:
    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._lists: dict[UUID, Listed] = {}  # oldest answer first
        self._ids = 0

    def __len__(self) -> int:
        """Story ids held, in all lists."""
        return self._ids

    def get(self, user: UUID) -> Listed | None:
        return self._lists.get(user)

    def put(self, user: UUID, stories: tuple[UUID, ...], at: float) -> None:
        if (previous := self._lists.pop(user, None)) is not None:
            self._ids -= len(previous.stories)
        if len(stories) > self._limit:
            return
        self._lists[user] = Listed(stories, at)
        self._ids += len(stories)
        self._evict()

    def move(self, story: UUID, former: UUID | None, owner: UUID | None) -> None:
        """`story` left `former`'s list (if held) and joined `owner`'s (if held)."""
        if former is not None and (listed := self._lists.get(former)) and story in listed.stories:
            listed.stories = tuple(s for s in listed.stories if s != story)
            self._ids -= 1
        if owner is not None and (listed := self._lists.get(owner)) and story not in listed.stories:
            listed.stories = (*listed.stories, story)
            self._ids += 1
            self._evict()

    def _evict(self) -> None:
        while self._ids > self._limit:
            oldest = next(iter(self._lists))
            self._ids -= len(self._lists.pop(oldest).stories)
