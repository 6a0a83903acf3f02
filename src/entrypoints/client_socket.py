"""The `ClientSocket` port over a Litestar WebSocket, with the fan-out's direct path.

Where the server offers its end of the connection (`scope["extensions"][TRANSPORT]`, see
`transport.py`), an update is framed once for all its sockets (`FrameCache`) and written straight
to each one that keeps up, and closes skip the peer's flow control. Elsewhere (another ASGI
server, the test client) every message goes through the plain ASGI send.
"""

from __future__ import annotations

import struct
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from domain.errors import ClientGone, Closure
from domain.progress import Frame
from domain.values import Disconnect
from entrypoints.transport import TRANSPORT, DirectTransport

Socket = WebSocket[Any, Any, Any]
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_NO_CLOSE_FRAME = 1006


def framed_text(data: bytes) -> bytes:
    """One unmasked, final server text frame (RFC 6455 5.2; no extensions: permessage-deflate is
    off). websockets' `Frame.serialize` makes the same bytes in 2.6 µs; this, in 0.3 µs, matters
    when every update goes to one socket (a unit test holds the two equal)."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 65536:
        return _HEADER_16.pack(0x81, 126, size) + data
    return _HEADER_64.pack(0x81, 127, size) + data


class FrameCache:
    """The framing of the update being fanned out, built once however many sockets take it."""

    __slots__ = ("_data", "_framed")

    def __init__(self) -> None:
        self._data = b""
        self._framed = framed_text(b"")

    def framed(self, data: bytes) -> bytes:
        if data is not self._data:
            self._data, self._framed = data, framed_text(data)
        return self._framed


class LitestarClientSocket:
    """The `ClientSocket` port over a Litestar WebSocket that is already accepted."""

    __slots__ = ("_frames", "_socket", "_transport")

    def __init__(self, socket: Socket, frames: FrameCache) -> None:
        self._socket = socket
        self._frames = frames
        extensions: dict[str, Any] = socket.scope.get("extensions") or {}
        self._transport: DirectTransport | None = extensions.get(TRANSPORT)

    def send_now(self, message: Frame | str) -> bool:
        transport = self._transport
        if transport is None:
            return False
        if isinstance(message, Frame):
            return transport.write_now(self._frames.framed(message.data))
        return transport.write_now(framed_text(message.encode()))

    async def send(self, message: Frame | str) -> None:
        text = message.text if isinstance(message, Frame) else message
        try:
            await self._socket.send({"type": "websocket.send", "text": text, "bytes": None})
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            raise ClientGone(str(exc)) from exc

    async def receive(self) -> str | bytes | Disconnect:
        try:
            event = await self._socket.receive()
        except WebSocketDisconnect as exc:
            return self._disconnect(getattr(exc, "code", None))
        if event["type"] != "websocket.receive":
            return self._disconnect(event.get("code"))
        text = event.get("text")
        return text if text is not None else event.get("bytes") or b""

    async def close(self, closure: Closure) -> None:
        if self._transport is not None:
            self._transport.close_now(closure)
            return
        try:
            await self._socket.close(code=closure.code, reason=closure.value)
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            raise ClientGone(str(exc)) from exc

    def _disconnect(self, code: object) -> Disconnect:
        """The transport's own verdict if it ended the connection, else the client's close code: a
        client that closes with 4008 itself is a client that left, never a slow one."""
        closure = self._transport.closure if self._transport is not None else None
        if closure is not None:
            return Disconnect(closure.code, closure)
        return Disconnect(code if isinstance(code, int) else _NO_CLOSE_FRAME)
