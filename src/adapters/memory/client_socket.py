"""An in-memory client connection: the test plays the client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.errors import ClientGone, Closure
from domain.progress import Frame
from domain.values import Disconnect


class MemorySocket:
    """A client connection: the test plays the client with `say`, `leave` and `stall`.

    Like the real transport, it takes a message at once while the client reads (`send_now`), and
    makes `send` wait while it is stalled; finding the client not reading is the transport's job:
    `leave(Closure.SLOW_CLIENT)` plays that (the transport closes the socket itself)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: Closure | None = None
        self.direct = 0  # messages taken by `send_now`
        self._inbound: asyncio.Queue[str | bytes | Disconnect] = asyncio.Queue()
        self._reading = asyncio.Event()
        self._reading.set()
        self._changed = asyncio.Event()

    def send_now(self, message: Frame | str) -> bool:
        if not self._reading.is_set() or self.closed is not None:
            return False
        self.sent.append(message.text if isinstance(message, Frame) else message)
        self.direct += 1
        self._changed.set()
        return True

    async def send(self, message: Frame | str) -> None:
        await self._reading.wait()
        if self.closed is not None:
            raise ClientGone("closed")
        self.sent.append(message.text if isinstance(message, Frame) else message)
        self._changed.set()

    async def receive(self) -> str | bytes | Disconnect:
        return await self._inbound.get()

    async def close(self, closure: Closure) -> None:
        self.closed = closure
        self._changed.set()

    def say(self, message: str | bytes) -> None:
        self._inbound.put_nowait(message)

    def leave(self, transport_closure: Closure | None = None, code: int = 1006) -> None:
        """The client goes away, with close `code` (1006: no close frame); with a closure, the
        transport ends the connection itself, as when it found the client not reading."""
        if transport_closure is not None:
            self.closed = transport_closure
            self._changed.set()
            code = transport_closure.code
        self._inbound.put_nowait(Disconnect(code, transport_closure))

    def stall(self) -> None:
        """Stop reading: every send blocks, as with a client whose TCP window is full."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    async def wait_for(self, predicate: Callable[[MemorySocket], bool], timeout: float = 2.0) -> None:
        """Until `predicate(self)` holds; a test helper that never sleeps a fixed time."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
