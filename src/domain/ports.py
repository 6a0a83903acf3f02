"""What the domain needs from the outside world; adapters satisfy these without inheriting."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Sequence
from typing import Protocol
from uuid import UUID

from domain.errors import AuthFailure, Closure
from domain.progress import Frame, ProgressUpdate, RejectReason
from domain.values import CancelOutcome, CancelRequest, Disconnect, FeedEvent, Principal, Topic


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """Raise `TokenRefused` with its reason unless the token is good."""
        ...


class StoryDirectory(Protocol):
    """Story ownership; raises `DirectoryUnavailable` when it cannot answer in time."""

    async def owner_of(self, story_id: UUID) -> UUID | None: ...

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        """The owners of those of `story_ids` that exist, and of every story of `users`, in one
        round trip."""
        ...

    async def stories_of(self, user_id: UUID) -> Sequence[UUID]: ...

    async def ping(self) -> None: ...


class ProgressFeed(Protocol):
    """Live updates and snapshots; raises `FeedUnavailable` when the broker is unreachable.

    A plain `ProgressFeed` (standalone Redis) holds one pattern subscription that brings every
    story's updates. The revocations channel is always subscribed too: each story id published
    there arrives as `Revoked`."""

    def events(self) -> AsyncGenerator[FeedEvent, None]:
        """Subscribe (every watched topic too), yield `Subscribed`, then every update or rejection
        until the broker fails."""
        ...

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]: ...

    async def ping(self) -> None: ...


class TopicFeed(ProgressFeed, Protocol):
    """A feed that brings only the topics watched (Redis Cluster): story channels as
    `ProgressUpdate`, user channels as `OwnerUpdate`, the revocations channel always."""

    async def watch(self, topics: Collection[Topic]) -> None:
        """Subscribe to `topics`; returns once the broker confirmed them, so nothing published
        from then on is missed. Topics are remembered and subscribed again by each `events()`."""
        ...

    async def unwatch(self, topics: Collection[Topic]) -> None: ...


class ProgressPublisher(Protocol):
    async def publish(self, update: ProgressUpdate, owner: UUID | None = None) -> ProgressUpdate:
        """Store the snapshot and publish atomically; return the update with its assigned `seq`.
        In cluster mode `owner` is required: the update also goes to the owner's channel."""
        ...


class WorkerSignals(Protocol):
    """What the gateway and a story's worker tell each other beside the progress: the worker's
    liveness key, and the owner's cancel request. Raises `FeedUnavailable` when Redis fails."""

    async def liveness(self, story_ids: Sequence[UUID]) -> list[int | None]:
        """Each story's liveness value (the worker's refresh time, ms since the epoch) or None, in
        order: one round trip however many."""
        ...

    async def cancel(self, request: CancelRequest) -> None:
        """Record the request (the story's cancel key) and signal it (its cancel channel)."""
        ...


class FrameEncoder(Protocol):
    def encode_bytes(self, update: ProgressUpdate) -> bytes: ...


class ClientSocket(Protocol):
    """One accepted client connection. `receive` gives text or bytes, and a `Disconnect` once the
    connection is over: the client left (with its close code), or the transport ended it for one
    of our reasons (it is the transport that finds a client not reading: `SLOW_CLIENT`)."""

    def send_now(self, message: Frame | str) -> bool:
        """Write at once if the connection can take it without waiting; False leaves it to `send`."""
        ...

    async def send(self, message: Frame | str) -> None:
        """Write `message`, waiting for the connection to take it; raises `ClientGone` once closed."""
        ...

    async def receive(self) -> str | bytes | Disconnect: ...

    async def close(self, closure: Closure) -> None: ...


class ConnectionMetrics(Protocol):
    """Connections: opened, served, refused, ended."""

    def connection_opened(self, endpoint: str) -> None: ...

    def connection_closed(self, endpoint: str, reason: str, code: int) -> None:
        """A connection ended, once: why (our reason, the transport's, or `client_closed`), and with
        which WebSocket close code (ours, or the client's)."""
        ...

    def connected(self, endpoint: str, seconds: float) -> None:
        """A connection was authorised and subscribed, with its snapshot queued, in `seconds`."""
        ...

    def authentication_failed(self, reason: AuthFailure) -> None: ...


class DeliveryMetrics(Protocol):
    """Progress written to clients, or merged while they were behind."""

    def sent(self, endpoint: str, count: int) -> None:
        """`count` progress messages written to clients of `endpoint` (the caller may batch)."""
        ...

    def written(self, lag_seconds: float) -> None:
        """Progress written to sockets `lag_seconds` after its `updated_at`: once per fan-out of an
        update (its last direct write), and once per message a sender wrote from a backlog."""
        ...

    def updates_merged(self, count: int) -> None: ...


class FeedMetrics(Protocol):
    """The broker side: what the listener read, its losses and returns, the resyncs after them."""

    def broker_message(self) -> None:
        """A message was read from the broker, valid or not."""
        ...

    def update_received(self, lag_seconds: float) -> None: ...

    def update_rejected(self, reason: RejectReason) -> None: ...

    def listener_restarted(self) -> None: ...

    def listener_up(self, up: bool) -> None:
        """The broker subscription was confirmed (True), or lost (False) until the next one."""
        ...

    def snapshots_resynced(self) -> None:
        """One resync pass offered every subscriber the stored snapshots."""
        ...


class ControlMetrics(Protocol):
    """What clients ask of a story besides watching it."""

    def cancel_requested(self, outcome: CancelOutcome) -> None: ...


class Metrics(ConnectionMetrics, DeliveryMetrics, FeedMetrics, ControlMetrics, Protocol):
    """Every concern at once: what a metrics adapter implements; each part of the domain takes only
    the Protocol of its own concern."""
