"""Stored snapshots offered to outboxes: to a connect, to the dashboards a story moved to, to every
subscriber in a resync, and again for `status`.

An offer never counts in the write lag (that is for live updates), and the outbox keeps a
snapshot only where it is newer than what it holds, so offering again is always safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from uuid import UUID

from domain.connection.outbox import Offer, Outbox
from domain.errors import FeedUnavailable
from domain.hub.snapshots import LatestFrames, SnapshotReader
from domain.hub.subscribers import Index
from domain.ports import DeliveryMetrics
from domain.progress import ProgressUpdate

logger = logging.getLogger(__name__)


def _as_stored(update: ProgressUpdate) -> ProgressUpdate:
    return update


class SnapshotOffers:
    """`mark` gives each snapshot the flags of the gateway's own judgement (`stalled`) before it is
    offered, so that a connect, a resync or `status` never clears a flag the watchers hold."""

    def __init__(
        self,
        reader: SnapshotReader,
        frames: LatestFrames,
        metrics: DeliveryMetrics,
        mark: Callable[[ProgressUpdate], ProgressUpdate] = _as_stored,
    ) -> None:
        self._reader = reader
        self._frames = frames
        self._metrics = metrics
        self._mark = mark

    async def _read(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        return [self._mark(update) for update in await self._reader.read(story_ids)]

    async def offer(self, outbox: Outbox, story_ids: Iterable[UUID], endpoint: str) -> None:
        """The stored snapshots of `story_ids`, each story's frame shared with the other connects
        that read it; raises `FeedUnavailable` (the caller asks for a resync)."""
        snapshots = await self._read(list(story_ids))
        frames = self._frames
        sent = sum(outbox.offer(frames.frame_of(update), live=False) is Offer.SENT for update in snapshots)
        if sent:
            self._metrics.sent(endpoint, sent)

    async def end_of(self, story_id: UUID) -> int | None:
        """The `seq` of the stored snapshot if the story has ended; None if not, or if unreadable."""
        try:
            snapshots = await self._reader.read([story_id])
        except FeedUnavailable:
            return None
        if snapshots and snapshots[0].status.terminal:
            return snapshots[0].seq
        return None

    async def offer_each(self, index: Index, wanted: Mapping[UUID, Sequence[UUID]], endpoint: str) -> None:
        """Each outbox under a key of `index` gets the snapshots of that key's stories (a resync):
        each snapshot read once and encoded once, however many outboxes want it. Raises
        `FeedUnavailable`."""
        updates = await self._read(_union(wanted.values()))
        frames = {u.story_id: self._frames.encode(u) for u in updates}
        sent = 0
        for key, story_ids in wanted.items():
            for outbox in list(index.get(key, ())):
                for story_id in story_ids:
                    if (frame := frames.get(story_id)) is not None:
                        sent += outbox.offer(frame, live=False) is Offer.SENT
        if sent:
            self._metrics.sent(endpoint, sent)

    async def refresh(self, outbox: Outbox, story_ids: Sequence[UUID]) -> None:
        """`status`: one message per story with state, the stored snapshot where it is newer than
        what the outbox holds (a store written without a publish). No directory query."""
        try:
            snapshots = await self._read(story_ids)
        except FeedUnavailable as exc:
            logger.warning("snapshots unavailable, status answers with what is held: %s", exc)
            snapshots = []
        outbox.resend_latest([self._frames.frame_of(update) for update in snapshots])


def _union(groups: Iterable[Sequence[UUID]]) -> list[UUID]:
    return list(dict.fromkeys(story_id for group in groups for story_id in group))
