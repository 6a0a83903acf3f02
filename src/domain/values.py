"""Value types that cross the ports: who a token speaks for, what the feed yields, what can be watched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

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


@dataclass(frozen=True, slots=True)
class Topic:
    """A channel a process can subscribe to on its own (cluster mode): one story's, or one user's."""

    kind: Literal["story", "user"]
    id: UUID


@dataclass(frozen=True, slots=True)
class OwnerUpdate:
    """An update heard on its owner's channel (cluster mode): it is for that user's dashboards."""

    owner: UUID
    update: ProgressUpdate


@dataclass(frozen=True, slots=True)
class Revoked:
    """The main backend moved or deleted a story (`revoke`): its ownership must be asked again now."""

    story_id: UUID


FeedEvent = Subscribed | ProgressUpdate | OwnerUpdate | Revoked | Rejected


def revocation(channel: str, data: bytes) -> Revoked | Rejected:
    """A message of the revocations channel: a story id as UUID text (what `revoke` publishes)."""
    try:
        if len(data) <= 64:
            return Revoked(UUID(data.decode("ascii").strip()))
    except (UnicodeDecodeError, ValueError):
        pass
    return Rejected(channel, "revocation: not a story id")
