"""A Server-Sent Events client for the tests, on a raw socket: it sees the wire exactly as sent (the
head, chunks, every field and comment), and can stop reading to play a reader that stalled."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from testkit.waiting import timeout


@dataclass(frozen=True)
class Event:
    """One event as dispatched (`event`, `data`, `id`, `retry`), or a comment (`comment` set)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data)
        return value


@dataclass
class SseStream:
    """One GET: its status and headers, then (for a 200) the events as they arrive."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # of an answer that is not a stream
    ended: bool = False  # the server ended the response (last chunk, or EOF)
    _text: str = ""
    _events: list[Event] = field(default_factory=list)

    async def next(self, seconds: float = 5.0) -> Event:
        """The next event or comment; fails the test if the stream ends or nothing comes in time."""
        async with asyncio.timeout(timeout(seconds)):
            while not self._events:
                if self.ended:
                    raise AssertionError(f"the stream ended; the rest of it: {self._text!r}")
                await self._read()
        return self._events.pop(0)

    async def progress(self, seconds: float = 5.0) -> Event:
        """The next `progress` event (comments and hints skipped)."""
        while (got := await self.next(seconds)).event != "progress":
            pass
        return got

    async def until_end(self, seconds: float = 5.0) -> list[Event]:
        """Every event until the server ends the response."""
        seen: list[Event] = []
        async with asyncio.timeout(timeout(seconds)):
            while not self.ended:
                await self._read()
        seen, self._events = self._events, []
        return seen

    def close(self) -> None:
        self.writer.close()

    async def _read(self) -> None:
        if self.headers.get("transfer-encoding") == "chunked":
            size = int((await self.reader.readline()).strip() or b"0", 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                self.ended = True
            self._feed(data[:-2].decode())
        else:
            data = await self.reader.read(65536)
            self.ended = not data
            self._feed(data.decode())

    def _feed(self, text: str) -> None:
        self._text += text
        while "\n\n" in self._text:
            block, self._text = self._text.split("\n\n", 1)
            self._events.append(parse_block(block))


def parse_block(block: str) -> Event:
    """One event (or comment) block of a stream, without its blank line."""
    fields: dict[str, str] = {}
    comments: list[str] = []
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if not name:
            comments.append(value)
        elif name == "data" and "data" in fields:
            fields["data"] += "\n" + value
        else:
            fields[name] = value
    if comments and not fields:
        return Event(event="", comment="\n".join(comments))
    retry = fields.get("retry")
    return Event(
        event=fields.get("event", "message" if "data" in fields else ""),
        data=fields.get("data", ""),
        id=fields.get("id"),
        retry=int(retry) if retry is not None else None,
    )


async def open_stream(
    url: str, headers: dict[str, str] | None = None, *, receive_buffer: int | None = None, method: str = "GET"
) -> SseStream:
    """Send the request and read the answer's head (and the whole body of an answer that is not a
    stream). `receive_buffer` shrinks the socket's receive buffer, for a client that will stall."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    stream = SseStream(reader, writer)
    async with asyncio.timeout(timeout(5)):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        stream.status = int(head[0].split(" ")[1])
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                stream.headers[name.strip().lower()] = value.strip()
        if stream.status != 200 or "text/event-stream" not in stream.headers.get("content-type", ""):
            stream.body = await reader.readexactly(int(stream.headers.get("content-length", "0")))
            stream.ended = True
    return stream
