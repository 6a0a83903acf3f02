"""Stalled readers and unfinished messages, found by one `Wheel` for the whole process instead of
uvicorn's ping timer per connection.

A socket that was written to gets a protocol ping `ping_after` (3 s) later; an idle one gets none
and holds no timer. A peer answers a ping only after reading all that came before it, so one still
unanswered after SLOW_CLIENT_SECONDS is a reader that stopped: 4008 `slow_client`, at the latest
SLOW_CLIENT_SECONDS + 3 s + two ticks after it stopped. A message left unfinished (fragments, no
final frame) that long gets 1008 `unfinished_message`. Pings, and pongs that answer none of ours,
are metered as the session meters messages (1008 `flood`).
"""

from __future__ import annotations

import random
import struct
from typing import ClassVar

from websockets.frames import Frame

from domain.aio.wheel import Wheel
from domain.connection.client_frames import FloodGuard
from domain.errors import Closure
from entrypoints.closing import ClosingProtocol

PING_AFTER = 3.0  # a written socket is pinged this long after the first write the last ping missed
TICK = 0.5  # the wheel's resolution
PING_RATE, PING_BURST = 20.0, 40.0


class StallWatchProtocol(ClosingProtocol):
    slow_client_seconds: ClassVar[float] = 30.0
    wheel: ClassVar[Wheel]  # one per process: see `uvicorn_protocol.websocket_protocol`

    wheel_slot = 0  # class defaults: an instance holds these only once they are set
    written_at = 0.0  # the first write since the last ping went out (0: none)
    _unfinished_at = 0.0  # when the message still unfinished began (0: none)
    _ping_guard: FloodGuard | None = None  # built on the first ping a client sends

    def note_unfinished(self) -> None:
        """After each read: the start of a message left unfinished is noted for the wheel."""
        if self.frames:
            if not self._unfinished_at:
                self._unfinished_at = self.loop.time()
                self.wheel.visit_at(self, self._unfinished_at + self.slow_client_seconds)
        elif self._unfinished_at:
            self._unfinished_at = 0.0

    def start_keepalive(self) -> None:
        """uvicorn pings every connection on a timer of its own, idle or not; the wheel pings only
        sockets written to (upstream: pings on demand). `ws_ping_interval` is None anyway."""

    def handle_pong(self, event: Frame) -> None:
        """The answer to the wheel's ping: uvicorn's own chains its next ping, none here. Other
        pongs are metered with pings: a client may send a rare heartbeat, not a flood (upstream:
        pings on demand, and metered control frames)."""
        if self.pending_ping_payload is not None and bytes(event.data) == self.pending_ping_payload:
            self.pending_ping_payload = None
            if self.written_at:
                self.wheel.visit_at(self, self.written_at + self._ping_after())
        elif not self.pings_allowed(1):
            self.close_now(Closure.FLOOD)

    def visit(self, now: float) -> float | None:
        """The wheel's visit: close a reader whose ping went unanswered, or a message left
        unfinished, for SLOW_CLIENT_SECONDS; ping a socket written to since the last ping."""
        if self.close_sent or self.disconnected:
            return None
        limit = self.slow_client_seconds
        due: float | None = None
        if self.pending_ping_payload is not None:
            if now >= self.ping_sent_at + limit:
                self.close_now(Closure.SLOW_CLIENT)
                return None
            due = self.ping_sent_at + limit
        elif self.written_at:
            due = self.written_at + self._ping_after()
            if now >= due:
                self._ping(now)
                due = now + limit
        if self._unfinished_at:
            if now >= self._unfinished_at + limit:
                self.close_now(Closure.UNFINISHED)
                return None
            due = min(due or now + limit, self._unfinished_at + limit)
        return due

    def wrote(self) -> None:
        self.written_at = self.loop.time()
        self.wheel.visit_at(self, self.written_at + self._ping_after())

    def _ping_after(self) -> float:
        return min(PING_AFTER, self.slow_client_seconds / 2)

    def _ping(self, now: float) -> None:
        self.pending_ping_payload = payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at, self.written_at = now, 0.0
        self.transport.write(b"\x89\x04" + payload)

    def pings_allowed(self, count: int) -> bool:
        now = self.loop.time()
        if self._ping_guard is None:
            self._ping_guard = FloodGuard(PING_RATE, PING_BURST, now)
        return all(self._ping_guard.allow(now) for _ in range(count))
