"""uvicorn's WebSocket protocol, adapted to enforce `SLOW_CLIENT_SECONDS` on peers that stop reading.

- A protocol ping goes out every `ws_ping_interval`; a peer answers it only after reading all
  that was sent before it, so a pong missing after `ws_ping_timeout` (= SLOW_CLIENT_SECONDS)
  means the client did not read its messages: it gets 4008 `slow_client`.
- uvicorn awaits the transport's flow control before every send, a close frame included, so a
  peer that stops reading could never be closed; here close frames are written past it, and the
  connection is aborted if it is still open `close_timeout` later.
- uvicorn 0.54 starts a new ping chain on every received frame; here one chain runs at a time.
- A frame over `ws_max_size` gets its 1009 close frame before the connection is half-closed;
  uvicorn closes at once, and the reset loses the close frame while the client is still sending.
- Send buffers are small (progress is state: a reader that falls behind should get merged
  updates from the outbox, not old ones from a deep buffer), and a stalled peer holds little.
- The fan-out's direct writer: `scope["extensions"][WRITE_FRAME]` is `write_frame`, which writes
  an already framed text frame (framed once for all its sockets) straight to the transport when
  the connection is open and its buffer has room, and says False otherwise; no ASGI message, no
  task, no per-socket framing on the way.
Depends on uvicorn internals (see `tests/unit/test_uvicorn_internals.py`): pinned <0.55.
"""

from __future__ import annotations

import socket

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from domain.errors import CLOSE_CODES, Closure
from entrypoints.client_socket import WRITE_FRAME

SLOW_CLIENT = (CLOSE_CODES[Closure.SLOW_CLIENT], Closure.SLOW_CLIENT.value)
SEND_BUFFER_BYTES = 16 * 1024


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: object) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.transport.set_write_buffer_limits(high=SEND_BUFFER_BYTES)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][WRITE_FRAME] = self.write_frame

    def write_frame(self, frame: bytes) -> bool:
        """Write a framed message now if the connection is open and can take it without waiting."""
        if (
            self.conn.state is not State.OPEN
            or self.close_sent
            or not self.writable.is_set()
            or self.transport.is_closing()
            or self.conn.extensions
        ):
            return False
        self.transport.write(frame)
        return True

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "websocket.close" and self._open_but_blocked():
            self._close_now(message.get("code", 1000), message.get("reason") or "")
        else:
            await super().send(message)
        if message["type"] == "websocket.close":
            self.loop.call_later(self.close_timeout, self.transport.abort)

    def schedule_ping(self) -> None:
        if self.ping_timer is None and self.pending_ping_payload is None:
            super().schedule_ping()

    def keepalive_timeout(self) -> None:
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        self._close_now(*SLOW_CLIENT)
        self.loop.call_later(self.close_timeout, self.transport.abort)

    def handle_parser_exception(self) -> None:
        """A frame over `ws_max_size`: send 1009 and half-close, so the client, still sending,
        gets the close frame instead of a reset (which browsers show as 1006)."""
        if self.close_sent or self.conn.close_sent is None:
            return
        code, reason = self.conn.close_sent.code, self.conn.close_sent.reason
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def _close_now(self, code: int, reason: str) -> None:
        """Tell the app and the peer, without waiting for a send buffer the peer may never drain."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True

    def _open_but_blocked(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and not self.writable.is_set()
        )
