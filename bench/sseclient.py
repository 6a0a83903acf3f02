"""A minimal Server-Sent Events client on a raw asyncio protocol, the SSE twin of `wsclient.Probe`
(same outcome, counters and latencies), cheap enough per event that the bench's clients are never
its bottleneck. It undoes the chunked encoding, reads only `updated_at` and the terminal status of
each `progress` event, and skips the `retry:` hint and heartbeat comments."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import cast

from bench.wsclient import STALLED_RCVBUF, TERMINAL, UPDATED_AT, Outcome, epoch

PROGRESS = b"event: progress\n"
CLOSE = b"event: close\n"


@dataclass
class SseProbe(asyncio.Protocol):
    """One stream. `opened` resolves with its `Outcome` (a 503 counts as "1013", as its WebSocket
    twin's close would); `done` when a terminal update arrives or the stream ends."""

    request: bytes
    stall: bool = False
    expect: int = 1
    snapshots: int = 0
    opened: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    received: int = 0
    latencies: list[float] = field(default_factory=list)
    transport: asyncio.Transport | None = None
    raw: bytearray = field(default_factory=bytearray)  # as received (chunked)
    text: bytearray = field(default_factory=bytearray)  # de-chunked
    started: bool = False
    extensions: str = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.raw += data
        if not self.started and not self._head():
            return
        arrived = time.time()
        self._dechunk()
        text, at = self.text, 0
        while (end := text.find(b"\n\n", at)) >= 0:
            self._event(bytes(text[at:end]), arrived)
            at = end + 2
        del text[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle(Outcome("lost"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _head(self) -> bool:
        end = self.raw.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = bytes(self.raw[: self.raw.find(b"\r\n")]).split(b" ")[1].decode()
        del self.raw[: end + 4]
        if status != "200":
            self._settle(Outcome("1013" if status == "503" else f"http {status}"))
            return False
        self.started = True
        if self.stall and self.transport is not None:
            self.transport.pause_reading()
            self._settle(Outcome("ok"))
        return not self.stall

    def _dechunk(self) -> None:
        raw, at = self.raw, 0
        while (line := raw.find(b"\r\n", at)) >= 0:
            size = int(raw[at:line], 16)
            if len(raw) < line + 2 + size + 2:
                break
            self.text += raw[line + 2 : line + 2 + size]
            at = line + 4 + size
        del raw[:at]

    def _event(self, block: bytes, arrived: float) -> None:
        if block.startswith(CLOSE):
            self._settle(Outcome(block.split(b'"code": ', 1)[1].split(b",", 1)[0].decode()))
            return
        if not block.startswith(PROGRESS):
            return  # the retry hint, a heartbeat
        if not self.opened.done():
            self.snapshots += 1
            if self.snapshots >= self.expect:
                self.opened.set_result(Outcome("ok"))
            return
        self.received += 1
        at = block.find(UPDATED_AT) + len(UPDATED_AT)
        self.latencies.append(arrived - epoch(block[at : block.index(b'"', at)]))
        if TERMINAL[0] in block or TERMINAL[1] in block:
            self._settle(Outcome("ok"))

    def _settle(self, outcome: Outcome) -> None:
        if not self.opened.done():
            self.opened.set_result(outcome)
        if not self.done.done():
            self.done.set_result(None)


def stream_request(url: str) -> bytes:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()


async def open_stream_probe(url: str, *, stall: bool = False, expect: int = 1) -> SseProbe:
    """Connect and send the request; await `probe.opened` for the outcome."""
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
    _, probe = await loop.create_connection(lambda: SseProbe(stream_request(url), stall, expect), sock=sock)
    return probe
