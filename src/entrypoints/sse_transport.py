"""The seam (`transport.DirectTransport`) for one Server-Sent Events response on uvicorn's httptools
protocol: write an event now if the peer keeps up, end the stream now, and find a reader that
stopped reading.

SSE has no ping. Once the stream begins, its connection's write buffer holds nothing beyond what
the kernel takes at once (high-water mark 0, `SO_SNDBUF` 16 KiB, as for WebSockets): a peer that
is behind pauses writing, its updates wait merged in its outbox, and if the buffer has not drained
for SLOW_CLIENT_SECONDS the stream ends with 4008 `slow_client` (one timer wheel for every stream
of the process; an idle or keeping-up stream holds no timer). A reader that stops while little is
sent costs the kernel's buffers only, and is found once they are full.

Depends on uvicorn internals (the request's `RequestResponseCycle` and the protocol's flow
control): `tests/unit/test_sse_transport_internals.py` names each one.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, ClassVar

from domain.aio.wheel import Wheel
from domain.errors import Closure
from entrypoints.event_stream import LAST_CHUNK, chunk, close_event

SEND_BUFFER_BYTES = 16 * 1024
ROOM_BYTES = 64 * 1024  # SO_SNDBUF for the last events of a peer that is behind (the kernel doubles it)
CLOSE_SECONDS = 2.0  # an ended stream's connection is gone by then, whatever the peer does
TICK = 0.5


class SseTransport:
    """The server's end of one SSE response: `cycle` is uvicorn's `RequestResponseCycle` of the
    request, `protocol` its `HttpToolsProtocol` (for its transport and flow control)."""

    wheel: ClassVar[Wheel]  # one per process: see `http_protocol.http_protocol`
    slow_client_seconds: ClassVar[float] = 30.0

    __slots__ = ("_cycle", "_paused_at", "_protocol", "closure", "wheel_slot")

    def __init__(self, protocol: Any, cycle: Any) -> None:
        self._protocol = protocol
        self._cycle = cycle
        self._paused_at = 0.0  # when the write buffer last stopped draining (0: it drains)
        self.closure: Closure | None = None
        self.wheel_slot = 0

    @property
    def chunked(self) -> bool:
        """Whether the response is chunked (HTTP/1.1) or plain to its end (HTTP/1.0)."""
        return bool(self._cycle.chunked_encoding)

    def streaming(self) -> None:
        """The stream began: from now on its connection buffers nothing beyond the kernel's share."""
        transport = self._protocol.transport
        transport.set_write_buffer_limits(high=0)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def write_now(self, data: bytes) -> bool:
        cycle, protocol = self._cycle, self._protocol
        if self.closure is not None or cycle.response_complete or cycle.disconnected:
            return False
        if protocol.flow.write_paused or protocol.transport.is_closing():
            return False
        protocol.transport.write(data)
        return True

    def close_now(self, closure: Closure) -> None:
        """`event: close`, then the end of the response and of the connection, past whatever the
        peer has not read; the app's `receive` sees the end at once."""
        cycle, transport = self._cycle, self._protocol.transport
        if self.closure is not None or cycle.response_complete or cycle.disconnected:
            return
        self.closure = closure
        cycle.response_complete, cycle.keep_alive = True, False
        cycle.message_event.set()
        data = close_event(closure)
        if self.chunked:
            data = chunk(data) + LAST_CHUNK
        if transport.is_closing():
            return
        if self._protocol.flow.write_paused or closure is Closure.SLOW_CLIENT:  # it will not read soon
            _make_room(transport)
        transport.write(data)
        transport.close()  # once the kernel has taken what is buffered
        asyncio.get_running_loop().call_later(CLOSE_SECONDS, transport.abort)

    def paused(self) -> None:
        """The peer is behind: its clock starts."""
        if not self._paused_at and self.closure is None:
            self._paused_at = asyncio.get_running_loop().time()
            self.wheel.visit_at(self, self._paused_at + self.slow_client_seconds)

    def resumed(self) -> None:
        self._paused_at = 0.0

    def visit(self, now: float) -> float | None:
        """The wheel's visit: end the stream of a peer whose buffer has not drained for
        SLOW_CLIENT_SECONDS."""
        if not self._paused_at or self.closure is not None or self._cycle.disconnected:
            return None
        due = self._paused_at + self.slow_client_seconds
        if now < due:
            return due
        self.close_now(Closure.SLOW_CLIENT)
        return None


def _make_room(transport: asyncio.Transport) -> None:
    """Grow the kernel's send buffer so that what waits here, and the last event, fit in it."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ROOM_BYTES)
        except OSError:
            return  # the abort after CLOSE_SECONDS still bounds it
