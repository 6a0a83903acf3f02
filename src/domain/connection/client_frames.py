"""What clients may send: a handful of text commands, bounded in size and rate."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import Closure


class Command(enum.Enum):
    PING = "ping"
    PONG = "pong"
    STATUS = "status"
    AUTH = "auth"
    CANCEL = "cancel"  # `cancel` on a story socket, `cancel <story_id>` on a dashboard
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class ClientFrame:
    command: Command
    argument: str = ""


def read_frame(message: str | bytes, max_bytes: int) -> ClientFrame | Closure:
    """Classify one client message, or say why the connection must end because of it."""
    if isinstance(message, bytes):
        return Closure.BINARY
    if len(message) > max_bytes or (
        len(message) * 4 > max_bytes and len(message.encode(errors="surrogatepass")) > max_bytes
    ):
        return Closure.TOO_BIG
    if message in ("ping", "pong", "status"):
        return ClientFrame(Command(message))
    if message.startswith("auth "):
        return ClientFrame(Command.AUTH, message[5:].strip())
    if message == "cancel" or message.startswith("cancel "):
        return ClientFrame(Command.CANCEL, message[7:].strip())
    return ClientFrame(Command.IGNORED)


class FloodGuard:
    """Token bucket: `rate` messages a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._stamp = now

    def allow(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
