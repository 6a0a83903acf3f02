"""uvicorn's WebSocket protocol with one fix for stalled peers.

uvicorn awaits the transport's flow control before every send, a close frame included, so a
peer that stops reading could never be closed, and closing the transport waits for a buffer
that never drains. Here a close frame is written past flow control, and the connection is
aborted if it is still open `close_timeout` later. Depends on uvicorn internals: pinned <0.55.
"""

from __future__ import annotations

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "websocket.close" and self._open_but_blocked():
            code = message.get("code", 1000)
            reason = message.get("reason") or ""
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.conn.send_close(code, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
        else:
            await super().send(message)
        if message["type"] == "websocket.close":
            self.loop.call_later(self.close_timeout, self.transport.abort)

    def _open_but_blocked(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and not self.writable.is_set()
        )
