"""What the domain needs from the outside world; adapters satisfy these without inheriting."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.errors import Closure
from domain.progress import ProgressUpdate


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for, and until when (epoch seconds)."""

    user_id: UUID
    expires_at: float


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The feed is (re)subscribed: anything published from now on will arrive."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A broker message that is not a valid update, with the reason it was refused."""

    channel: str
    reason: str


FeedEvent = Subscribed | ProgressUpdate | Rejected


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """Raise `AccessDenied(INVALID_TOKEN | TOKEN_EXPIRED)` unless the token is good."""
        ...


class StoryDirectory(Protocol):
    """Story ownership; raises `DirectoryUnavailable` when it cannot answer in time."""

    async def owner_of(self, story_id: UUID) -> UUID | None: ...

    async def stories_of(self, user_id: UUID) -> list[UUID]: ...

    async def ping(self) -> None: ...


class ProgressFeed(Protocol):
    """Live updates and snapshots; raises `FeedUnavailable` when the broker is unreachable."""

    def events(self) -> AsyncGenerator[FeedEvent, None]:
        """Subscribe, yield `Subscribed`, then every update or rejection until the broker fails."""
        ...

    async def snapshot(self, story_id: UUID) -> ProgressUpdate | None: ...

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]: ...

    async def ping(self) -> None: ...


class ProgressPublisher(Protocol):
    async def publish(self, update: ProgressUpdate) -> ProgressUpdate:
        """Store the snapshot and publish atomically; return the update with its assigned `seq`."""
        ...


class FrameEncoder(Protocol):
    def encode(self, update: ProgressUpdate) -> str: ...


class ClientSocket(Protocol):
    """One accepted client connection. `receive` gives text or bytes; None once the client is gone,
    or a `Closure` when the transport itself ended the connection for one of our reasons."""

    async def send(self, text: str) -> None: ...

    async def receive(self) -> str | bytes | Closure | None: ...

    async def close(self, closure: Closure) -> None: ...


class Metrics(Protocol):
    def connection_opened(self, endpoint: str) -> None: ...

    def connection_closed(self, endpoint: str, reason: str) -> None: ...

    def update_received(self, lag_seconds: float) -> None: ...

    def update_rejected(self, reason: str) -> None: ...

    def updates_merged(self, count: int) -> None: ...

    def listener_restarted(self) -> None: ...
