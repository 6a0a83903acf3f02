"""Why a progress stream stopped for good."""

from __future__ import annotations


class ProgressClientError(Exception):
    """The gateway closed the stream with a code that retrying cannot fix."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed by the gateway: {code} {reason or '(no reason)'}")
        self.code = code
        self.reason = reason


class AuthError(ProgressClientError):
    """4001 (token missing, invalid or expired) or 4003 (story unknown or not the token's user's):
    reconnect only with a new token or another story."""


class ConnectionRejected(ProgressClientError):
    """A close that says the client is at fault (1003, 1008, 1009, ...): fix the client."""
