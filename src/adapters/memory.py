"""In-memory adapters of every port: complete enough for the unit tests and the demo to run on them.

They record what happened (`published`, `sent`, `counts`) so tests assert outcomes, and they can
be broken on purpose (`fail()` / `recover()`) to show how the services cope.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from dataclasses import replace
from uuid import UUID

from adapters.json_codec import JsonCodec
from domain.errors import (
    AuthFailure,
    ClientGone,
    Closure,
    DirectoryUnavailable,
    FeedUnavailable,
    TokenRefused,
)
from domain.progress import Frame, InvalidUpdate, ProgressUpdate, RejectReason
from domain.values import (
    Disconnect,
    FeedEvent,
    OwnerUpdate,
    Principal,
    Rejected,
    Revoked,
    Subscribed,
    Topic,
    revocation,
)


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


class MemoryStoryDirectory:
    def __init__(self, owners: dict[UUID, UUID] | None = None) -> None:
        self.owners: dict[UUID, UUID] = dict(owners or {})
        self._down = False
        self.lookups = 0

    def add(self, story_id: UUID, owner: UUID) -> None:
        self.owners[story_id] = owner

    async def owner_of(self, story_id: UUID) -> UUID | None:
        self._check()
        self.lookups += 1
        return self.owners.get(story_id)

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        self._check()
        self.lookups += 1
        found = {s: self.owners[s] for s in story_ids if s in self.owners}
        if users:
            listed = set(users)
            found.update({s: owner for s, owner in self.owners.items() if owner in listed})
        return found

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        self._check()
        return [story for story, owner in self.owners.items() if owner == user_id]

    async def ping(self) -> None:
        self._check()

    def fail(self) -> None:
        self._down = True

    def recover(self) -> None:
        self._down = False

    def _check(self) -> None:
        if self._down:
            raise DirectoryUnavailable("memory directory is down")


class MemoryTokens:
    """Verifier of opaque tokens it issued itself; `exp` works as in JWT, in epoch seconds."""

    def __init__(self) -> None:
        self._issued: dict[str, Principal] = {}
        self._numbers = itertools.count(1)

    def issue(self, user_id: UUID, ttl_seconds: float = 3600.0) -> str:
        token = f"memory-token-{next(self._numbers)}"
        self._issued[token] = Principal(user_id, time.time() + ttl_seconds)
        return token

    def verify(self, token: str) -> Principal:
        principal = self._issued.get(token)
        if principal is None:
            raise TokenRefused(AuthFailure.BAD_SIGNATURE)  # not one it signed
        if principal.expires_at <= time.time():
            raise TokenRefused(AuthFailure.EXPIRED)
        return principal


class MemoryMetrics:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.open: Counter[str] = Counter()

    def connection_opened(self, endpoint: str) -> None:
        self.open[endpoint] += 1

    def connection_closed(self, endpoint: str, reason: str, code: int) -> None:
        self.open[endpoint] -= 1
        self.counts[f"closed:{reason}"] += 1
        self.counts[f"close_code:{code}"] += 1

    def update_received(self, lag_seconds: float) -> None:
        self.counts["received"] += 1

    def update_rejected(self, reason: RejectReason) -> None:
        self.counts[f"rejected:{reason}"] += 1

    def updates_merged(self, count: int) -> None:
        self.counts["merged"] += count

    def listener_restarted(self) -> None:
        self.counts["listener_restarts"] += 1

    def listener_up(self, up: bool) -> None:
        self.counts["listener_up"] = int(up)

    def sent(self, endpoint: str, count: int) -> None:
        self.counts[f"sent:{endpoint}"] += count

    def written(self, lag_seconds: float) -> None:
        self.counts["written"] += 1

    def connected(self, endpoint: str, seconds: float) -> None:
        self.counts[f"connected:{endpoint}"] += 1

    def authentication_failed(self, reason: AuthFailure) -> None:
        self.counts[f"auth_failed:{reason}"] += 1

    def snapshots_resynced(self) -> None:
        self.counts["resyncs"] += 1

    def broker_message(self) -> None:
        self.counts["broker_messages"] += 1


class MemorySocket:
    """A client connection: the test plays the client with `say`, `leave` and `stall`.

    Like the real transport, it takes a message at once while the client reads (`send_now`), and
    makes `send` wait while it is stalled; finding the client not reading is the transport's job:
    `leave(Closure.SLOW_CLIENT)` plays that (the transport closes the socket itself)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: Closure | None = None
        self.direct = 0  # messages taken by `send_now`
        self._inbound: asyncio.Queue[str | bytes | Disconnect] = asyncio.Queue()
        self._reading = asyncio.Event()
        self._reading.set()
        self._changed = asyncio.Event()

    def send_now(self, message: Frame | str) -> bool:
        if not self._reading.is_set() or self.closed is not None:
            return False
        self.sent.append(message.text if isinstance(message, Frame) else message)
        self.direct += 1
        self._changed.set()
        return True

    async def send(self, text: str) -> None:
        await self._reading.wait()
        if self.closed is not None:
            raise ClientGone("closed")
        self.sent.append(text)
        self._changed.set()

    async def receive(self) -> str | bytes | Disconnect:
        return await self._inbound.get()

    async def close(self, closure: Closure) -> None:
        self.closed = closure
        self._changed.set()

    def say(self, message: str | bytes) -> None:
        self._inbound.put_nowait(message)

    def leave(self, transport_closure: Closure | None = None, code: int = 1006) -> None:
        """The client goes away, with close `code` (1006: no close frame); with a closure, the
        transport ends the connection itself, as when it found the client not reading."""
        if transport_closure is not None:
            self.closed = transport_closure
            self._changed.set()
            code = transport_closure.code
        self._inbound.put_nowait(Disconnect(code, transport_closure))

    def stall(self) -> None:
        """Stop reading: every send blocks, as with a client whose TCP window is full."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    async def wait_for(self, predicate: Callable[[MemorySocket], bool], timeout: float = 2.0) -> None:
        """Until `predicate(self)` holds; a test helper that never sleeps a fixed time."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
