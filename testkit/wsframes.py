"""A WebSocket client on a bare socket, for what a well-behaved client never does: flood pings
without reading, leave a message unfinished, send invalid UTF-8 or frames no library would build.

Frames are built by hand (RFC 6455 5.2) and masked as a client must; the socket reads nothing unless
the test asks, so the kernel's buffers fill as they would for a peer that stopped reading.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

PING, PONG, TEXT, BINARY, CONT, CLOSE = 0x9, 0xA, 0x1, 0x2, 0x0, 0x8


def masked(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One client frame: FIN (or not), the opcode, the length, the mask and the masked payload."""
    key = os.urandom(4) if mask is None else mask
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ping_flood(total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """A block of 125-byte masked PINGs of about `chunk` bytes, and how many blocks make `total` bytes."""
    frame = masked(PING, b"p" * 125, mask=b"\x01\x02\x03\x04")
    block = frame * (chunk // len(frame))
    return block, -(-total // len(block))


def upgrade_request(port: int, path: str, *headers: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawWebSocket:
    """An upgraded connection on a non-blocking socket; `buffer` holds what was read past the head."""

    def __init__(self, sock: socket.socket, buffer: bytes) -> None:
        self.sock = sock
        self.buffer = buffer
        self._loop = asyncio.get_running_loop()

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    @classmethod
    async def open(cls, port: int, path: str, rcvbuf: int | None = 4096) -> RawWebSocket:
        """Connect and upgrade; a small receive buffer makes a peer that does not read fill up fast."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, upgrade_request(port, path))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                raise ConnectionError(f"closed during the handshake: {data[:80]!r}")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            sock.close()
            raise ConnectionError(f"upgrade refused: {head[:80]!r}")
        return cls(sock, rest)

    async def send(self, data: bytes) -> None:
        await self._loop.sock_sendall(self.sock, data)

    async def frame(self) -> tuple[int, bytes]:
        """The next (opcode, payload) from the server (unmasked, unfragmented)."""
        header = await self._take(2)
        opcode, length = header[0] & 0x0F, header[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self._take(8))
        return opcode, await self._take(length)

    async def close_frame(self) -> tuple[int, str]:
        """Read up to the server's close frame; its code and reason."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def send_close(self, code: int) -> None:
        await self.send(masked(CLOSE, struct.pack("!H", code)))

    async def at_eof(self) -> bool:
        """True once the server has closed the TCP connection (FIN or reset); what it sent meanwhile
        is read and dropped."""
        await self.until_eof()
        return True

    async def until_eof(self) -> bytes:
        """Everything the server still sends, up to its FIN or reset."""
        data = self.buffer
        self.buffer = b""
        try:
            while chunk := await self._loop.sock_recv(self.sock, 65536):
                data += chunk
        except ConnectionError:
            pass
        return data

    def close(self) -> None:
        self.sock.close()

    async def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = await self._loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data
