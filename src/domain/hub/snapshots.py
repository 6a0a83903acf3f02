"""Snapshots under a connect storm: the same story read once, different stories together (`MGET`),
and each story's latest frame encoded once for every connect that reads it.

See `BatchedReads` for why a read is never shared with a connect that asked after it was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.aio.batching import BatchedReads
from domain.errors import FeedUnavailable
from domain.ports import FrameEncoder, ProgressFeed
from domain.progress import Frame, ProgressUpdate

LATEST_FRAMES = 10_000
LATEST_BYTES = 16 * 2**20


class SnapshotReader:
    def __init__(self, feed: ProgressFeed) -> None:
        self._feed = feed
        self._reads: BatchedReads[UUID, ProgressUpdate] = BatchedReads(
            self._fetch, lambda: FeedUnavailable("too many snapshot reads waiting")
        )

    async def read(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        """The stored snapshots of `story_ids` (those that have one); raises `FeedUnavailable`."""
        found = await self._reads.read(story_ids)
        return [found[s] for s in story_ids if s in found]

    async def _fetch(self, story_ids: list[UUID]) -> dict[UUID, ProgressUpdate]:
        return {u.story_id: u for u in await self._feed.snapshots(story_ids)}


class LatestFrames:
    """The frame of each story's latest update, shared by the connects that read the same snapshot:
    one encoding, and one object that all their outboxes hold.

    Bound: `entries` frames (10,000) and `size` bytes of encoded updates (16 MiB), whichever comes
    first; the frame least recently stored is dropped first."""

    def __init__(self, encoder: FrameEncoder, entries: int = LATEST_FRAMES, size: int = LATEST_BYTES) -> None:
        self._encoder = encoder
        self._entries = entries
        self._size = size
        self._frames: dict[UUID, Frame] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def bytes(self) -> int:
        return self._bytes

    def frame_of(self, update: ProgressUpdate) -> Frame:
        """The stored frame if it is of this very update, else a new one (then stored)."""
        frame = self._frames.get(update.story_id)
        if frame is None or frame.update != update:
            frame = self.encode(update)
            self.store(frame)
        return frame

    def encode(self, update: ProgressUpdate) -> Frame:
        """A new frame of `update`, not stored: the one encoding all its receivers share."""
        return Frame(update, self._encoder.encode_bytes(update))

    def store(self, frame: Frame) -> None:
        story_id = frame.update.story_id
        if (previous := self._frames.pop(story_id, None)) is not None:
            self._bytes -= len(previous.data)
        self._frames[story_id] = frame
        self._bytes += len(frame.data)
        while len(self._frames) > self._entries or self._bytes > self._size:
            self._bytes -= len(self._frames.pop(next(iter(self._frames))).data)
