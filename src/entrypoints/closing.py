"""How a WebSocket connection ends under uvicorn: within `CLOSE_SECONDS` of the first close frame,
whichever side sent it, and whatever the peer does then.

uvicorn waits for the peer's flow control before its close frame, answers pings after it, reads
on, and gives the peer 10 s to answer before a `close()` that itself waits, without end, for a
send buffer the peer may never drain. Here:
- our close frame is written at once; a peer that keeps up has `CLOSE_SECONDS` to answer it,
  then the connection is aborted; one that keeps sending more than `AFTER_CLOSE_BYTES` is cut
  off at once;
- a peer that is behind, or found not reading, could not answer in time: the kernel's send buffer
  is grown enough to take the frame, and the connection is closed now. The kernel then delivers what it holds,
  ending with our close frame, should the client read again (Linux keeps trying for about a
  minute and a half); the process holds nothing of it. If the client sent anything we did not
  read, the kernel resets the connection instead;
- a frame over `ws_max_size` (websockets' parser refuses it) gets its close frame before a
  half-close, so that a client still sending reads 1009 rather than a reset.
"""

from __future__ import annotations

import socket

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame
from websockets.protocol import State

from domain.errors import Closure

CLOSE_SECONDS = 2.0
AFTER_CLOSE_BYTES = 1024 * 1024  # beyond a frame of any size the parser could be discarding
ROOM_BYTES = 64 * 1024  # SO_SNDBUF for the last frames of a peer that is behind (the kernel doubles it)
PARSER_CLOSURES = {1002: Closure.PROTOCOL_ERROR, 1007: Closure.INVALID_UTF8, 1009: Closure.TOO_BIG}


class ClosingProtocol(WebSocketsSansIOProtocol):
    closure: Closure | None = None  # why the server ended the connection (see transport.py)
    _after_close = 0  # bytes read since our close frame

    def close_now(self, closure: Closure) -> None:
        """The seam's close (`transport.DirectTransport`): our close frame, for this reason."""
        self.closure = self.closure or closure
        self.close_with(closure.code, closure.value)

    def close_with(self, code: int, reason: str) -> None:
        """Our close frame, past the peer's flow control; the app is told at once. A connection
        already closing (the peer's close, its EOF) is given CLOSE_SECONDS to finish."""
        if self.close_sent:
            return
        if self.conn.state is not State.OPEN or self.transport.is_closing():
            if self.close_timer is None:
                self.close_timer = self.loop.call_later(CLOSE_SECONDS, self.transport.abort)
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        frame = b"".join(self.conn.data_to_send())
        self.close_sent = True
        behind = not self.writable.is_set() or self.closure is Closure.SLOW_CLIENT  # it will not answer
        if behind:
            self._make_room()
        self.transport.write(frame)
        if behind:
            self.transport.close()  # when the frame is in the kernel's buffer
        elif self.read_paused:
            self.read_paused = False  # read the answer; nothing else is taken from now on
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(CLOSE_SECONDS, self.transport.abort)

    def count_after_close(self, size: int) -> bool:
        """True if the peer has sent too much since our close frame: it is cut off."""
        self._after_close += size
        if self._after_close <= AFTER_CLOSE_BYTES:
            return False
        self.transport.abort()
        return True

    def handle_close(self, event: Frame) -> None:
        """uvicorn answers the peer's close frame with `close()`, which waits for our buffer to
        drain: a peer that closes and never reads would be held for good (upstream: a deadline)."""
        super().handle_close(event)
        if self.transport.is_closing() and self.close_timer is None:
            self.close_timer = self.loop.call_later(CLOSE_SECONDS, self.transport.abort)

    def handle_parser_exception(self) -> None:
        """uvicorn closes at once, and the reset loses the close frame while the client is still
        sending (browsers show 1006); here the frame goes first, then a half-close, and an abort
        within CLOSE_SECONDS (upstream: half-close after a parser failure)."""
        if self.close_sent or self.conn.close_sent is None:
            return
        code, reason = self.conn.close_sent.code, self.conn.close_sent.reason
        self.closure = PARSER_CLOSURES.get(code, Closure.PROTOCOL_ERROR)
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(CLOSE_SECONDS, self.transport.abort)

    def _make_room(self) -> None:
        """Grow the kernel's send buffer so that what waits here, and the close frame, fit in it."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, ROOM_BYTES)
            except OSError:
                return  # the abort after CLOSE_SECONDS still bounds it
