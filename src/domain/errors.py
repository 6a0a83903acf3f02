"""Why a connection ends, and the failures the services raise; entrypoints map them to close codes."""

from __future__ import annotations

import enum


class Closure(enum.StrEnum):
    """Why the server ends a connection; the value is the close reason the client reads."""

    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a close reason, not a secret)
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    FORBIDDEN = "forbidden"
    SLOW_CLIENT = "slow_client"
    SHUTDOWN = "shutdown"
    UNAVAILABLE = "unavailable"
    TOO_BIG = "too_big"
    BINARY = "binary_unsupported"
    FLOOD = "flood"
    INTERNAL = "internal_error"
    # The transport's own verdicts on what a client sent (see entrypoints/uvicorn_protocol.py):
    INVALID_UTF8 = "invalid_utf8"
    UNFINISHED = "unfinished_message"
    PROTOCOL_ERROR = "protocol_error"

    @property
    def code(self) -> int:
        """The WebSocket close code CONTRACT.md gives this reason."""
        return CLOSE_CODES[self]


CLOSE_CODES: dict[Closure, int] = {
    Closure.INVALID_TOKEN: 4001,
    Closure.TOKEN_EXPIRED: 4001,
    Closure.FORBIDDEN: 4003,
    Closure.SLOW_CLIENT: 4008,
    Closure.SHUTDOWN: 1001,
    Closure.UNAVAILABLE: 1013,
    Closure.TOO_BIG: 1009,
    Closure.BINARY: 1003,
    Closure.FLOOD: 1008,
    Closure.INTERNAL: 1011,
    Closure.INVALID_UTF8: 1007,
    Closure.UNFINISHED: 1008,
    Closure.PROTOCOL_ERROR: 1002,
}


class AccessDenied(Exception):
    """The token or the story does not allow this connection; `closure` says which."""

    def __init__(self, closure: Closure, detail: str = "") -> None:
        super().__init__(f"{closure.value}: {detail}" if detail else closure.value)
        self.closure = closure
        self.detail = detail


class DirectoryUnavailable(Exception):
    """The story directory (PostgreSQL) did not answer in time."""


class FeedUnavailable(Exception):
    """The progress feed (Redis) is unreachable; the listener backs off and retries."""


class ClientGone(Exception):
    """The client's socket is closed; nothing more can be sent to it."""
