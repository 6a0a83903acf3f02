"""Raw TCP clients of the gateway, for what a well-behaved HTTP client never does: stay silent, send
half a request head, drip header lines, or send a head too large."""

from __future__ import annotations

import asyncio
import base64
import os

from testkit.waiting import timeout


def upgrade_head(path: str, *extra_headers: str) -> bytes:
    """A WebSocket handshake request for `path`, with any extra header lines."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *extra_headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def answer_to(port: int, head: bytes, seconds: float = 5.0, chunk: int = 0) -> bytes:
    """Send `head` (in writes of `chunk` bytes, if given) and read until the server closes; everything
    it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for start in range(0, len(head), chunk or len(head)):
            writer.write(head[start : start + (chunk or len(head))])
            await writer.drain()
        async with asyncio.timeout(timeout(seconds)):
            return await reader.read(-1)
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Wait until the server closes a connection the client keeps quiet on; what it sent before."""
    async with asyncio.timeout(timeout(seconds)):
        return await reader.read(-1)
