"""A TCP proxy in front of the gateway that plays the networks where WebSockets cannot pass.

- `cut`: a WebSocket upgrade goes through (the browser gets its `101` and whatever the gateway
  sends), then the tunnel is killed `cut_after` seconds later, without a close frame (a reset);
- `refuse`: a WebSocket upgrade is answered `403 Forbidden` by the proxy itself, as a corporate
  proxy does.

Every other request (the page, the client module, Server-Sent Events) passes untouched. Only the
first request head of each connection is looked at: browsers open a connection of its own for
each WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

from testkit.processes import OnLoopback, free_port

REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n"
    b"connection: close\r\n\r\nforbidden\n"
)


@dataclass
class FlakyProxy(OnLoopback):
    upstream_port: int
    mode: Literal["cut", "refuse"]
    cut_after: float = 0.2
    port: int = field(default_factory=free_port)
    upgrades: list[float] = field(default_factory=list)  # when each WebSocket upgrade arrived
    cuts: list[float] = field(default_factory=list)  # when each tunnel was killed
    streams: int = 0  # requests passed through untouched
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> FlakyProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.transport.abort()
        finally:
            self._tasks.discard(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        upgrade = b"\r\nupgrade: websocket" in head.lower()
        if upgrade:
            self.upgrades.append(time.time())
        else:
            self.streams += 1
        if upgrade and self.mode == "refuse":
            writer.write(REFUSAL)
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        up_writer.write(head)
        both = (writer, up_writer)
        pumps = [
            asyncio.create_task(_pump(reader, up_writer)),
            asyncio.create_task(_pump(up_reader, writer, self._cut_later(both) if upgrade else None)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for each in both:
                each.transport.abort()

    def _cut_later(self, both: tuple[asyncio.StreamWriter, ...]) -> asyncio.Event:
        """Once the upgrade's answer went through, the tunnel dies `cut_after` seconds later."""
        answered = asyncio.Event()

        async def cut() -> None:
            await answered.wait()
            await asyncio.sleep(self.cut_after)  # the proxy's own behaviour, not a test's wait
            self.cuts.append(time.time())
            for each in both:
                each.transport.abort()

        task = asyncio.create_task(cut())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return answered


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, first: asyncio.Event | None = None
) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            if first is not None:
                first.set()
            await sink.drain()
