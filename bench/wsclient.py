"""A minimal WebSocket client on a raw asyncio protocol: cheap enough per message that the bench's
clients are never its bottleneck (tens of thousands of messages a second per process).

It reads only what the bench needs from each progress frame (`updated_at` for the latency, and
whether `status` is terminal), answers `ping` texts and protocol pings, and can stop reading right
after the handshake (a client that never reads). Frames it sends are masked (with a zero key).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

UPDATED_AT = b'"updated_at":"'
TERMINAL = (b'"status":"complete"', b'"status":"failed"')
DEFLATE_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
STALLED_RCVBUF = 4096
STAMPS: dict[bytes, float] = {}  # `updated_at` to epoch seconds: parsed once per update per process


@dataclass
class Outcome:
    """How a connect ended: `ok` (snapshot held, or handshake done for a stalled client), a close
    code before the snapshot (`1013`, `4001`…), `http <status>`, or `lost`."""

    status: str
    extensions: str = ""


@dataclass
class Probe(asyncio.Protocol):
    """One connection. `opened` resolves with its `Outcome`; `done` when a terminal update arrives
    or the connection ends; `received` counts updates after the snapshot."""

    request: bytes
    stall: bool = False
    expect: int = 1  # progress messages that make the snapshot (a dashboard: one per story)
    snapshots: int = 0
    opened: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    received: int = 0
    latencies: list[float] = field(default_factory=list)
    transport: asyncio.Transport | None = None
    buffer: bytearray = field(default_factory=bytearray)
    upgraded: bool = False
    inflater: zlib._Decompress | None = None
    extensions: str = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but quacks
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._handshake():
            return
        arrived, buffer, at = time.time(), self.buffer, 0
        while len(buffer) - at >= 2:
            head, size, start = buffer[at], buffer[at + 1] & 0x7F, at + 2
            if size == 126:
                size, start = int.from_bytes(buffer[at + 2 : at + 4]), at + 4
            elif size == 127:
                size, start = int.from_bytes(buffer[at + 2 : at + 10]), at + 10
            if len(buffer) < start + size:
                break
            self._frame(head, bytes(buffer[start : start + size]), arrived)
            at = start + size
        del buffer[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle(Outcome("lost"))

    def send_text(self, payload: bytes, opcode: int = 0x1) -> None:
        """A masked frame (zero mask key: the payload goes as it is)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def close(self) -> None:
        self.send_text((1000).to_bytes(2, "big"), 0x8)
        if self.transport is not None:
            self.transport.close()

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = head[0].split(" ")[1]
        if status != "101":
            self._settle(Outcome(f"http {status}"))
            return False
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                self.extensions = value.strip()
                if "permessage-deflate" in self.extensions:
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.upgraded = True
        if self.stall and self.transport is not None:
            self.transport.pause_reading()
            self._settle(Outcome("ok", self.extensions))
        return not self.stall

    def _frame(self, head: int, payload: bytes, arrived: float) -> None:
        opcode = head & 0x0F
        if opcode == 0x1:
            if head & 0x40 and self.inflater is not None:
                payload = self.inflater.decompress(payload + b"\0\0\xff\xff")
            self._text(payload, arrived)
        elif opcode == 0x9:
            self.send_text(payload, 0xA)
        elif opcode == 0x8:
            code = int.from_bytes(payload[:2]) if len(payload) >= 2 else 1005
            self.send_text(payload[:2], 0x8)
            if self.transport is not None:
                self.transport.close()
            self._settle(Outcome(str(code)))

    def _text(self, payload: bytes, arrived: float) -> None:
        if payload == b"ping":
            self.send_text(b"pong")
            return
        if not self.opened.done():
            self.snapshots += 1
            if self.snapshots >= self.expect:
                self.opened.set_result(Outcome("ok", self.extensions))  # the snapshot
            return
        if payload == b"pong":
            return
        self.received += 1
        at = payload.find(UPDATED_AT) + len(UPDATED_AT)
        self.latencies.append(arrived - epoch(payload[at : payload.index(b'"', at)]))
        if TERMINAL[0] in payload or TERMINAL[1] in payload:
            self._settle(Outcome("ok"))

    def _settle(self, outcome: Outcome) -> None:
        if not self.opened.done():
            self.opened.set_result(outcome)
        if not self.done.done():
            self.done.set_result(None)


def epoch(stamp: bytes) -> float:
    seconds = STAMPS.get(stamp)
    if seconds is None:
        if len(STAMPS) > 100_000:
            STAMPS.clear()
        seconds = STAMPS[stamp] = datetime.fromisoformat(stamp.decode()).timestamp()
    return seconds


def upgrade_request(url: str, deflate: bool) -> bytes:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    ).encode()
    return head + (DEFLATE_OFFER if deflate else b"") + b"\r\n"


async def open_probe(url: str, *, deflate: bool = False, stall: bool = False, expect: int = 1) -> Probe:
    """Connect and start the handshake; await `probe.opened` for the outcome. A stalled client's
    receive buffer is small, so the server's writes to it block soon."""
    loop = asyncio.get_running_loop()
    parts = urllib.parse.urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if stall:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
    try:
        await loop.sock_connect(sock, (parts.hostname, parts.port))
    except OSError:
        sock.close()
        raise
    request = upgrade_request(url, deflate)
    _, probe = await loop.create_connection(lambda: Probe(request, stall, expect), sock=sock)
    return probe
