"""Live delivery: what the listener hears, to the outboxes that want it, in one pass.

Each update is encoded once and offered to every outbox that wants it: an outbox whose socket
keeps up writes it at once (see `Outbox`). A story's update reaches its own watchers and, as the
feed's kind says (`Reach`), its owner's dashboards; the frame of a watched story is kept as the
next connect's snapshot. A revocation goes to the ownership checks, a new subscription to the
resync.
"""

from __future__ import annotations

from domain.hub.ownership import OwnershipChecks
from domain.hub.reach import Reach
from domain.hub.resync import Resync
from domain.hub.snapshots import LatestFrames
from domain.hub.subscribers import Subscribers
from domain.progress import ProgressUpdate
from domain.values import OwnerUpdate, Revoked


class Delivery:
    """The listener's `FeedSink`."""

    def __init__(
        self,
        subscribers: Subscribers,
        frames: LatestFrames,
        reach: Reach,
        ownership: OwnershipChecks,
        resync: Resync,
    ) -> None:
        self._subscribers = subscribers
        self._frames = frames
        self._reach = reach
        self._ownership = ownership
        self._resync = resync

    def subscribed(self, again: bool) -> None:
        self._resync.subscribed(again)

    def received(self, event: ProgressUpdate | OwnerUpdate | Revoked) -> None:
        by_story, by_user = self._subscribers.by_story, self._subscribers.by_user
        if isinstance(event, Revoked):
            self._ownership.revoked(event.story_id)
            return
        if isinstance(event, OwnerUpdate):  # delivered where the directory agrees on the owner
            if event.owner in by_user:
                self._reach.owner_update(event.owner, self._frames.encode(event.update))
            return
        watchers = by_story.get(event.story_id)
        if not watchers and not by_user:
            return
        frame = self._frames.encode(event)
        if watchers:
            self._frames.store(frame)  # the next connect's snapshot, most likely
            self._subscribers.deliver(watchers, frame, "story")
        if by_user:
            self._reach.story_update(frame)
