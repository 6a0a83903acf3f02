"""uvicorn's WebSocket protocol (websockets sans-I/O), hardened: a peer costs what its send buffer
allows, and no more, and is gone in bounded time whatever it does. Three layers over uvicorn's:

- `closing.py`: our close frame past the peer's flow control, nothing answered after it, gone
  within 2 s (`CLOSE_SECONDS`); a peer that is behind gets the frame in the kernel's buffer and the
  connection closed at once.
- `stalls.py`: one timer wheel for the process pings sockets written to, and closes with 4008 a
  reader whose ping went unanswered for SLOW_CLIENT_SECONDS; 1008 for a message left unfinished
  that long; pings metered.
- here: flow control both ways (while anything waits in our buffer for the peer, nothing more is
  read from it, pings included, and only the latest pong waits, RFC 6455 5.5.3); a write buffer
  whose high-water mark is 0 (progress is state: what a reader cannot take now waits, merged, in
  its outbox, never as old frames here); invalid UTF-8 gets 1007 `invalid_utf8` without a
  traceback; a read of more messages than the app could take gets 1008 `flood`; and the seam
  (`transport.py`): `scope["extensions"][TRANSPORT]` is the protocol itself.

Each override says why, and what upstream change would let it go. Internals are named in
`tests/unit/test_uvicorn_internals.py`; uvicorn is pinned <0.55.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from websockets.protocol import State

from domain.aio.wheel import Wheel
from domain.errors import Closure
from entrypoints.settings import Settings
from entrypoints.stalls import TICK, StallWatchProtocol
from entrypoints.transport import TRANSPORT

SEND_BUFFER_BYTES = 16 * 1024  # the kernel's share (SO_SNDBUF); ours is nothing beyond one frame
MAX_QUEUED = 64  # messages read but not yet taken by the app: the flood guard closes long before


class GatewayWebSocketProtocol(StallWatchProtocol):
    _pong: bytes | None = None  # the latest pong, held while the peer is behind (a class default)

    def connection_made(self, transport: Any) -> None:
        """uvicorn keeps asyncio's 64 KiB write buffer and the kernel's default; here ours holds
        nothing beyond one frame and the kernel's is small (upstream: buffer limits in `Config`)."""
        super().connection_made(transport)
        self.transport.set_write_buffer_limits(high=0)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    async def run_asgi(self) -> None:
        """The seam goes into the scope before the app is called (uvicorn builds the scope and
        creates the task in one step; upstream: a hook for extensions per connection)."""
        self.scope["extensions"][TRANSPORT] = self  # type: ignore[assignment]  # ASGI types them as dicts
        await super().run_asgi()

    # The seam (transport.DirectTransport)

    def write_now(self, data: bytes) -> bool:
        if self.close_sent or not self.writable.is_set() or self.conn.state is not State.OPEN:
            return False
        if self.transport.is_closing() or self.conn.extensions:  # framing assumes no deflate
            return False
        self.transport.write(data)
        if not self.written_at:
            self.wrote()
        return True

    # Reading: nothing while the peer is behind, nothing answered after our close

    def data_received(self, data: bytes) -> None:
        """uvicorn reads on after its close frame, and bounds no unfinished message in time; here
        a peer that keeps sending is cut off, and the start of an unfinished message is noted for
        the wheel (upstream: a close deadline, and a deadline on fragmented messages)."""
        if self.close_sent and self.count_after_close(len(data)):
            return
        super().data_received(data)
        self.note_unfinished()

    def send_receive_event_to_app(self) -> None:
        """uvicorn logs an ERROR traceback for invalid UTF-8, and queues every message one read
        holds (a 256 KiB read of empty frames is 40,000 events); upstream: an INFO line and 1007,
        and a bound on the queue."""
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        event: ASGIReceiveEvent
        if self.curr_msg_data_type == "text":
            try:
                event = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:
                self.close_now(Closure.INVALID_UTF8)
                return
        else:
            event = {"type": "websocket.receive", "bytes": data}
        if self.queue.qsize() >= MAX_QUEUED:
            self.close_now(Closure.FLOOD)
            return
        self.queue.put_nowait(event)
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    async def receive(self) -> ASGIReceiveEvent:
        """uvicorn resumes reading once the app has taken every message; here only if the peer
        also keeps up (upstream: one read-pause flag for both reasons)."""
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            if self.writable.is_set() or self.close_sent:
                self.transport.resume_reading()
        return message

    def handle_ping(self) -> None:
        """uvicorn writes every pong whatever is queued for the peer, and meters no ping; here the
        latest only, once the peer keeps up, none after our close, and pings are metered like
        messages (upstream: pongs under flow control, RFC 6455 5.5.3)."""
        writes = self.conn.data_to_send()
        if self.close_sent:
            return
        pongs = [data for data in writes if data[:1] == b"\x8a"]
        if len(pongs) != len(writes):  # a close answered in the same read: uvicorn writes it next
            self.transport.write(b"".join(data for data in writes if data[:1] != b"\x8a"))
        if pongs and not self.pings_allowed(len(pongs)):
            self.close_now(Closure.FLOOD)
        elif pongs:
            self._pong = pongs[-1]
            if self.writable.is_set():
                self._write_pong()

    def pause_writing(self) -> None:
        """The peer is behind: read nothing from it until it catches up; uvicorn reads on, and
        each ping read is a pong queued (upstream: pause reading with writing)."""
        super().pause_writing()
        if not self.close_sent:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The peer caught up: read again (unless the app is behind), and send the held pong; the
        counterpart of `pause_writing` (uvicorn only sets its event; upstream: the same)."""
        super().resume_writing()
        if not self.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()
        if self._pong is not None and not self.close_sent:
            self._write_pong()

    def _write_pong(self) -> None:
        pong, self._pong = self._pong, None
        if pong is not None:
            self.transport.write(pong)
            self.wrote()

    # Writing through ASGI

    async def send(self, message: ASGISendEvent) -> None:
        """uvicorn awaits the peer's flow control before every message, a close frame included, so
        a peer that stopped reading could never be closed (upstream: close frames skip it)."""
        if message["type"] == "websocket.close" and self.handshake_complete and self.initial_response is None:
            self.close_with(message.get("code", 1000), message.get("reason") or "")
            return
        await super().send(message)
        if message["type"] == "websocket.send" and not self.written_at:
            self.wrote()


def websocket_protocol(settings: Settings) -> type[GatewayWebSocketProtocol]:
    """The protocol class uvicorn instantiates per connection, with this process's limit and wheel."""

    class ConfiguredWebSocketProtocol(GatewayWebSocketProtocol):
        slow_client_seconds = settings.slow_client_seconds
        wheel = Wheel(TICK)

    return ConfiguredWebSocketProtocol
