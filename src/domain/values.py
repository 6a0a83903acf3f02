"""Value types that cross the ports: who a token speaks for, how a connection ended, what the feed
yields, what can be watched."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from domain.errors import Closure
from domain.progress import InvalidUpdate, ProgressUpdate, RejectReason


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for, and until when (epoch seconds)."""

    user_id: UUID
    expires_at: float


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A connection ended without the session closing it. `closure` None: the client left, and `code`
    is its close frame's code (1006 without one). Otherwise the transport closed it itself, for that
    reason (a reader that stopped reading: `SLOW_CLIENT`), and `code` is the one it sent; no code
    a client can send is ever read as one of ours."""

    code: int
    closure: Closure | None = None


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The feed is (re)subscribed: anything published from now on will arrive."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A broker message that is not a valid update: why (a fixed set), and how, in words."""

    channel: str
    reason: RejectReason
    detail: str = ""

    @classmethod
    def of(cls, channel: str, error: InvalidUpdate) -> Rejected:
        return cls(channel, error.field, error.reason)


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


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """A story's owner asked to stop it: recorded for its worker, and signalled to it."""

    story_id: UUID
    user_id: UUID
    requested_at: datetime


class CancelOutcome(enum.StrEnum):
    """The answer to a cancel (a fixed set: it labels a metric, and is the wire's reason)."""

    OK = "ok"
    TERMINAL = "terminal"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"


FeedEvent = Subscribed | ProgressUpdate | OwnerUpdate | Revoked | Rejected


def revocation(channel: str, data: bytes) -> Revoked | Rejected:
    """A message of the revocations channel: a story id as UUID text (what `revoke` publishes)."""
    try:
        if len(data) <= 64:
            return Revoked(UUID(data.decode("ascii").strip()))
    except (UnicodeDecodeError, ValueError):
        pass
    return Rejected(channel, RejectReason.REVOCATION, "not a story id")
