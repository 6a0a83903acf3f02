"""uvicorn's WebSocket protocol (websockets sans-I/O), hardened: a peer costs what its send buffer
allows, and no more, and is gone in bounded time whatever it does.

- Flow control both ways: while anything waits in our buffer for the peer, nothing more is read
  from it (pings included: each ping read would be a pong written), and pongs wait too (only the
  latest, RFC 6455 5.5.3). The buffer's high-water mark is 0: progress is state, so what a reader
  cannot take now waits, merged, in its outbox, never as old frames here.
- Stalled readers: one `Wheel` for the whole process instead of a ping timer per connection. A
  socket that was written to gets a protocol ping `ping_after` later (none while idle); a peer
  answers it only after reading all that came before, so one unanswered for `SLOW_CLIENT_SECONDS`
  is a reader that stopped: 4008 `slow_client`, by SLOW_CLIENT_SECONDS + 4 s at the latest.
- A message left unfinished (fragments, no final frame) for SLOW_CLIENT_SECONDS gets 1008.
- Closing: our close frame goes out past the peer's flow control, and the connection is gone
  within `CLOSE_SECONDS`; after it nothing is answered. A peer that is behind cannot read it in
  time, so the kernel is given room for it and the connection is closed at once: the client reads
  what its kernel already holds, then 4008, if it reads again within the kernel's patience.
- Invalid UTF-8 gets 1007 `invalid_utf8`, no traceback. More pings than the session allows
  messages (unsolicited pongs count too), or a read of more messages than the app could ever take, gets
  1008 `flood`.
- The app's end of this (`transport.py`): `scope["extensions"][TRANSPORT]` is the protocol itself.

Each override says why, and what upstream change would let it go. Internals are named in
`tests/unit/test_uvicorn_internals.py`; uvicorn is pinned <0.55.
"""

from __future__ import annotations

import random
import socket
import struct
from typing import Any, ClassVar

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from websockets.frames import Frame
from websockets.protocol import State

from domain.aio.wheel import Wheel
from domain.connection.client_frames import FloodGuard
from domain.errors import Closure
from entrypoints.closing import ClosingProtocol
from entrypoints.settings import Settings
from entrypoints.transport import TRANSPORT

SEND_BUFFER_BYTES = 16 * 1024  # the kernel's share (SO_SNDBUF); ours is nothing beyond one frame
MAX_QUEUED = 64  # messages read but not yet taken by the app: the flood guard closes long before
PING_AFTER = 3.0  # a written socket is pinged this long after the first write the last ping missed
TICK = 0.5  # the wheel's resolution
PING_RATE, PING_BURST = 20.0, 40.0  # pings metered as the session meters messages


class GatewayWebSocketProtocol(ClosingProtocol):
    slow_client_seconds: ClassVar[float] = 30.0
    wheel: ClassVar[Wheel]  # one per process: see `websocket_protocol`

    wheel_slot = 0  # class defaults: an instance holds these only once they are set
    _written_at = 0.0  # the first write since the last ping went out (0: none)
    _unfinished_at = 0.0  # when the message still unfinished began (0: none)
    _pong: bytes | None = None  # the latest pong, held while the peer is behind
    _ping_guard: FloodGuard | None = None  # built on the first ping a client sends

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
        if not self._written_at:
            self._wrote()
        return True

    def close_now(self, closure: Closure) -> None:
        self.closure = self.closure or closure
        self.close_with(closure.code, closure.value)

    # Reading: nothing while the peer is behind, nothing answered after our close

    def data_received(self, data: bytes) -> None:
        """uvicorn reads on after its close frame, and bounds no unfinished message in time; here
        a peer that keeps sending is cut off, and the start of an unfinished message is noted for
        the wheel (upstream: a close deadline, and a deadline on fragmented messages)."""
        if self.close_sent and self.count_after_close(len(data)):
            return
        super().data_received(data)
        if self.frames:
            if not self._unfinished_at:
                self._unfinished_at = self.loop.time()
                self.wheel.visit_at(self, self._unfinished_at + self.slow_client_seconds)
        elif self._unfinished_at:
            self._unfinished_at = 0.0

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
        if pongs and not self._pings_allowed(len(pongs)):
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

    def _pings_allowed(self, count: int) -> bool:
        now = self.loop.time()
        if self._ping_guard is None:
            self._ping_guard = FloodGuard(PING_RATE, PING_BURST, now)
        return all(self._ping_guard.allow(now) for _ in range(count))

    def _write_pong(self) -> None:
        pong, self._pong = self._pong, None
        if pong is not None:
            self.transport.write(pong)
            self._wrote()

    # Writing through ASGI

    async def send(self, message: ASGISendEvent) -> None:
        """uvicorn awaits the peer's flow control before every message, a close frame included, so
        a peer that stopped reading could never be closed (upstream: close frames skip it)."""
        if message["type"] == "websocket.close" and self.handshake_complete and self.initial_response is None:
            self.close_with(message.get("code", 1000), message.get("reason") or "")
            return
        await super().send(message)
        if message["type"] == "websocket.send" and not self._written_at:
            self._wrote()

    # Stalled readers and unfinished messages: the wheel's visits

    def start_keepalive(self) -> None:
        """uvicorn pings every connection on a timer of its own, idle or not; the wheel pings only
        sockets written to (upstream: pings on demand). `ws_ping_interval` is None anyway."""

    def handle_pong(self, event: Frame) -> None:
        """The answer to the wheel's ping: uvicorn's own chains its next ping, none here. Other
        pongs are metered with pings: a client may send a rare heartbeat, not a flood (upstream:
        pings on demand, and metered control frames)."""
        if self.pending_ping_payload is not None and bytes(event.data) == self.pending_ping_payload:
            self.pending_ping_payload = None
            if self._written_at:
                self.wheel.visit_at(self, self._written_at + self._ping_after())
        elif not self._pings_allowed(1):
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
        elif self._written_at:
            due = self._written_at + self._ping_after()
            if now >= due:
                self._ping(now)
                due = now + limit
        if self._unfinished_at:
            if now >= self._unfinished_at + limit:
                self.close_now(Closure.UNFINISHED)
                return None
            due = min(due or now + limit, self._unfinished_at + limit)
        return due

    def _wrote(self) -> None:
        self._written_at = self.loop.time()
        self.wheel.visit_at(self, self._written_at + self._ping_after())

    def _ping_after(self) -> float:
        return min(PING_AFTER, self.slow_client_seconds / 2)

    def _ping(self, now: float) -> None:
        self.pending_ping_payload = payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at, self._written_at = now, 0.0
        self.transport.write(b"\x89\x04" + payload)


def websocket_protocol(settings: Settings) -> type[GatewayWebSocketProtocol]:
    """The protocol class uvicorn instantiates per connection, with this process's limit and wheel."""

    class ConfiguredWebSocketProtocol(GatewayWebSocketProtocol):
        slow_client_seconds = settings.slow_client_seconds
        wheel = Wheel(TICK)

    return ConfiguredWebSocketProtocol
