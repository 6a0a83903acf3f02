"""The in-memory broker: the feed and the publisher over one in-process broker, as Redis would be."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import replace
from uuid import UUID

from adapters.json_codec import JsonCodec
from domain.errors import FeedUnavailable
from domain.progress import InvalidUpdate, ProgressUpdate, RejectReason
from domain.values import FeedEvent, OwnerUpdate, Rejected, Revoked, Subscribed, Topic, revocation


class MemoryBroker:
    """Feed and publisher over one in-process broker, with Redis's semantics: seq, snapshot, channel.

    It plays either kind of feed: the standalone one (every story heard), or with `per_topic` the
    cluster one, a `TopicFeed`: only watched topics are heard, and each update also goes to its
    owner's channel `user:{owner}`. The `revocations` channel is always heard (`revoke`)."""

    def __init__(self, codec: JsonCodec | None = None, *, per_topic: bool = False) -> None:
        self._codec = codec or JsonCodec()
        self._snapshots: dict[UUID, ProgressUpdate] = {}
        self._counters: dict[UUID, int] = {}
        self._listeners: set[asyncio.Queue[tuple[str, bytes] | None]] = set()
        self._down = False
        self._per_topic = per_topic
        self.watched: set[Topic] = set()
        self.published: list[ProgressUpdate] = []

    async def publish(self, update: ProgressUpdate, owner: UUID | None = None) -> ProgressUpdate:
        self._check()
        if self._per_topic and owner is None:
            raise ValueError("per-topic mode needs the story's owner to publish an update")
        held = self._snapshots.get(update.story_id)
        seq = max(self._counters.get(update.story_id, 0), (held.seq or 0) if held else 0) + 1
        self._counters[update.story_id] = seq
        sequenced = replace(update, seq=seq)
        self._snapshots[update.story_id] = sequenced
        self.published.append(sequenced)
        self.publish_raw(f"story:{update.story_id}", body := self._codec.encode_bytes(sequenced))
        if self._per_topic:
            self.publish_raw(f"user:{owner}", body)
        return sequenced

    def store(self, update: ProgressUpdate) -> None:
        """A snapshot written without a publish (a legacy publisher's SET alone, a repair script)."""
        self._snapshots[update.story_id] = update

    def revoke(self, story_id: UUID) -> None:
        """What the backend's `revoke` does: the story's ownership changed, every gateway asks again."""
        self.publish_raw("revocations", str(story_id).encode())

    def publish_raw(self, channel: str, data: bytes) -> None:
        """What a foreign or legacy publisher would put on a channel, valid or not."""
        for queue in self._listeners:
            queue.put_nowait((channel, data))

    async def events(self) -> AsyncGenerator[FeedEvent, None]:
        self._check()
        queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            yield Subscribed()
            while (message := await queue.get()) is not None:
                if self._heard(message[0]):
                    yield self._parse(*message)
            raise FeedUnavailable("memory broker failed")
        finally:
            self._listeners.discard(queue)

    async def watch(self, topics: Collection[Topic]) -> None:
        self._check()
        self.watched.update(topics)

    async def unwatch(self, topics: Collection[Topic]) -> None:
        self.watched.difference_update(topics)

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        self._check()
        return [self._snapshots[s] for s in story_ids if s in self._snapshots]

    async def ping(self) -> None:
        self._check()

    def fail(self) -> None:
        """Drop every subscription and refuse calls, as a Redis restart would."""
        self._down = True
        for queue in self._listeners:
            queue.put_nowait(None)

    def recover(self) -> None:
        self._down = False

    def _check(self) -> None:
        if self._down:
            raise FeedUnavailable("memory broker is down")

    def _heard(self, channel: str) -> bool:
        if not self._per_topic or channel == "revocations":
            return True
        kind, _, key = channel.partition(":")
        return kind in ("story", "user") and Topic(kind, UUID(key)) in self.watched  # type: ignore[arg-type]

    def _parse(self, channel: str, data: bytes) -> ProgressUpdate | OwnerUpdate | Revoked | Rejected:
        if channel == "revocations":
            return revocation(channel, data)
        try:
            update = self._codec.decode(data)
        except InvalidUpdate as exc:
            return Rejected.of(channel, exc)
        if self._per_topic and channel.startswith("user:"):
            return OwnerUpdate(UUID(channel[5:]), update)
        if channel != f"story:{update.story_id}":
            return Rejected(channel, RejectReason.STORY_ID, "differs from the channel's")
        return update
