"""Each user's fair share of one process: at most `limit` open connections, story and dashboard together.

One token must not take every slot (`MAX_CONNECTIONS` counts the whole process). The count sits
on every connect, so it is one dict entry per user with a connection open, and nothing else.
"""

from __future__ import annotations

from uuid import UUID


class ConnectionQuota:
    """Open connections per user on this process, each at most `limit`.

    Bound: one entry per user holding at least one connection here, so never more entries than
    open connections (`MAX_CONNECTIONS`); a user's entry leaves with their last connection."""

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a user needs room for at least one connection")
        self.limit = limit
        self._counts: dict[UUID, int] = {}

    def acquire(self, user_id: UUID) -> bool:
        """Take one of the user's slots; False (and nothing taken) when they hold `limit` already."""
        held = self._counts.get(user_id, 0)
        if held >= self.limit:
            return False
        self._counts[user_id] = held + 1
        return True

    def release(self, user_id: UUID) -> None:
        """Give back a slot: once per successful `acquire`, however the connection ended."""
        held = self._counts[user_id] - 1
        if held:
            self._counts[user_id] = held
        else:
            del self._counts[user_id]

    def held(self, user_id: UUID) -> int:
        return self._counts.get(user_id, 0)

    def __len__(self) -> int:
        """Users with a connection open here."""
        return len(self._counts)
