"""Snapshot reads under a connect storm: the same story read once, different stories together (`MGET`).

See `BatchedReads` for why a read is never shared with a connect that asked after it was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.aio.batching import BatchedReads
from domain.ports import ProgressFeed
from domain.progress import ProgressUpdate


class SnapshotReader:
    def __init__(self, feed: ProgressFeed, max_batch: int = 1000) -> None:
        self._feed = feed
        self._reads: BatchedReads[UUID, ProgressUpdate] = BatchedReads(self._fetch, max_batch)

    async def read(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        """The stored snapshots of `story_ids` (those that have one); raises `FeedUnavailable`."""
        found = await self._reads.read(story_ids)
        return [found[s] for s in story_ids if s in found]

    async def _fetch(self, story_ids: list[UUID]) -> dict[UUID, ProgressUpdate]:
        return {u.story_id: u for u in await self._feed.snapshots(story_ids)}
