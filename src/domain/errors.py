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
    TOO_MANY_CONNECTIONS = "too_many_connections"  # the user's share of this process is taken
    REBALANCE = "rebalance"  # a worker sheds sockets so that reconnects spread over every worker
    TOO_BIG = "too_big"
    BINARY = "binary_unsupported"
    FLOOD = "flood"
    INTERNAL = "internal_error"
    # A stream with nothing to send: the client already holds the story's end (SSE's Last-Event-ID).
    FINISHED = "finished"
    # The transport's own verdicts on what a client sent (see entrypoints/uvicorn_protocol.py):
    INVALID_UTF8 = "invalid_utf8"
    UNFINISHED = "unfinished_message"
    PROTOCOL_ERROR = "protocol_error"

    @property
    def code(self) -> int:
        """The WebSocket close code docs/protocol.md gives this reason."""
        return CLOSE_CODES[self]


CLOSE_CODES: dict[Closure, int] = {
    Closure.INVALID_TOKEN: 4001,
    Closure.TOKEN_EXPIRED: 4001,
    Closure.FORBIDDEN: 4003,
    Closure.SLOW_CLIENT: 4008,
    Closure.SHUTDOWN: 1001,
    Closure.UNAVAILABLE: 1013,
    Closure.TOO_MANY_CONNECTIONS: 4029,
    Closure.REBALANCE: 1012,
    Closure.TOO_BIG: 1009,
    Closure.BINARY: 1003,
    Closure.FLOOD: 1008,
    Closure.INTERNAL: 1011,
    Closure.FINISHED: 1000,
    Closure.INVALID_UTF8: 1007,
    Closure.UNFINISHED: 1008,
    Closure.PROTOCOL_ERROR: 1002,
}


# Close codes counted by their number; any other (a client's 3000-4999) is counted as `other`.
KNOWN_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012})


def close_code_label(code: int) -> str:
    """A label of bounded variety: ours and the protocol's codes by number, the rest `other`."""
    return str(code) if code in KNOWN_CLOSE_CODES or code in CLOSE_CODES.values() else "other"


class AuthFailure(enum.StrEnum):
    """Why a token was refused: a fixed set, so that it can label a metric."""

    NO_TOKEN = "no_token"  # noqa: S105 (a label, not a secret)
    MALFORMED = "malformed"  # not a JWT at all
    BAD_SIGNATURE = "bad_signature"
    BAD_ALGORITHM = "bad_algorithm"  # an algorithm the configuration does not allow (`none` too)
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # `nbf` or `iat` in the future
    MISSING_CLAIM = "missing_claim"  # no `exp` or no `sub`
    BAD_AUDIENCE = "bad_audience"
    BAD_ISSUER = "bad_issuer"
    BAD_SUBJECT = "bad_subject"  # `sub` is not a UUID
    OTHER_USER = "other_user"  # a renewal for another user
    INVALID = "invalid"  # any other refusal of the token library


class AccessDenied(Exception):
    """The token, the story or the user's share of the process does not allow this connection, or
    it has nothing to serve (`FINISHED`); `closure` says which."""

    def __init__(self, closure: Closure, detail: str = "") -> None:
        super().__init__(f"{closure.value}: {detail}" if detail else closure.value)
        self.closure = closure
        self.detail = detail


class TokenRefused(AccessDenied):
    """A token that does not authenticate, with its `failure`; closes 4001 (`token_expired` or
    `invalid_token`)."""

    def __init__(self, failure: AuthFailure) -> None:
        expired = failure is AuthFailure.EXPIRED
        super().__init__(Closure.TOKEN_EXPIRED if expired else Closure.INVALID_TOKEN, failure.value)
        self.failure = failure


class DirectoryUnavailable(Exception):
    """The story directory (PostgreSQL) did not answer in time."""


class FeedUnavailable(Exception):
    """The progress feed (Redis) is unreachable; the listener backs off and retries."""


class ClientGone(Exception):
    """The client's socket is closed; nothing more can be sent to it."""
