"""Snapshot reads under a connect storm: one broker round trip for many connects, not one each.

Reads asked for while a batch read is in flight, or within the same loop turn, join the next
batch: the same story is read once for all of them, different stories together (`MGET`). A read
is never shared with a connect that asked after it was sent: each connect must read after it
subscribed, or an update published in between could be missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from domain.ports import ProgressFeed
from domain.progress import ProgressUpdate

Found = dict[UUID, ProgressUpdate]


class SnapshotReader:
    def __init__(self, feed: ProgressFeed, max_batch: int = 1000) -> None:
        self._feed = feed
        self._max_batch = max_batch
        self._wanted: dict[UUID, None] = {}
        self._next: asyncio.Future[Found] | None = None
        self._reading = False

    async def read(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        """The stored snapshots of `story_ids` (those that have one); raises `FeedUnavailable`."""
        if not story_ids:
            return []
        if len(story_ids) > self._max_batch:  # a dashboard of many stories: a read of its own
            return await self._feed.snapshots(story_ids)
        self._wanted.update(dict.fromkeys(story_ids))
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieve)
            if not self._reading:
                asyncio.get_running_loop().call_soon(self._flush)
        found = await asyncio.shield(self._next)
        return [found[s] for s in story_ids if s in found]

    def _flush(self) -> None:
        batch, future = list(self._wanted), self._next
        self._wanted, self._next = {}, None
        if future is not None:
            self._reading = True
            task = asyncio.ensure_future(self._read(batch, future))
            task.add_done_callback(self._read_done)

    async def _read(self, batch: list[UUID], future: asyncio.Future[Found]) -> None:
        try:
            found = {u.story_id: u for u in await self._feed.snapshots(batch)}
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 (handed to every reader of the batch, raised there)
            future.set_exception(exc)
        else:
            future.set_result(found)

    def _read_done(self, task: asyncio.Future[None]) -> None:
        self._reading = False
        if self._next is not None:
            self._flush()


def _retrieve(future: asyncio.Future[Found]) -> None:
    """A batch whose readers all gave up must not log "exception never retrieved"."""
    if not future.cancelled():
        future.exception()
