"""The one seam between the server's protocol and the app, beside ASGI: `scope["extensions"][TRANSPORT]`.

ASGI gives the app one awaitable `send` per message, which waits for the peer's flow control and
costs a task switch; the fan-out needs to write an update framed once to thousands of sockets in
one pass, and to close a peer that stopped reading without waiting for it. The server sets this
object in the scope before the app is called (`uvicorn_protocol.py` implements it); where it is
absent (another ASGI server, the test client) the app falls back to plain ASGI messages.

It carries bytes already framed for its transport, so another transport (Server-Sent Events over
HTTP) can offer the same three things, and `write_now` may combine the writes of one loop turn
into one system call, as long as their order holds.
"""

from __future__ import annotations

from typing import Protocol

from domain.errors import Closure

TRANSPORT = "codestory.transport"


class DirectTransport(Protocol):
    """The server's end of one connection."""

    @property
    def closure(self) -> Closure | None:
        """Why the server ended the connection, if it did: the transport's own verdict (`SLOW_CLIENT`
        for a peer that stopped reading, `UNFINISHED`, `INVALID_UTF8`, `TOO_BIG`, `PROTOCOL_ERROR`,
        `FLOOD`), or what `close_now` was given. None while open, and when the client ended it."""
        ...

    def write_now(self, data: bytes) -> bool:
        """Write framed bytes now if the peer keeps up (nothing waits in the server's buffer for it);
        False, writing nothing, if it is behind or the connection is closing."""
        ...

    def close_now(self, closure: Closure) -> None:
        """Send the close frame now, past whatever the peer has not read; the connection is gone
        within 2 s however the peer behaves. Does nothing once closing."""
        ...
