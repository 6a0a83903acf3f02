"""Browser sockets on `serve --workers N`: which worker accepted each, read from /proc (the worker
whose accepted connections gained the socket's peer), and the SIGTERM that closes them all."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed

from testkit.browser import BrowserSockets
from testkit.clients import WorkerClient
from testkit.processes import GatewayProcess, tcp_sockets
from testkit.waiting import timeout

MAX_BROWSER_SOCKETS = 20


class BrowserOnWorkers:
    """Opens browser sockets one at a time and tells which worker accepted each."""

    def __init__(self, sockets: BrowserSockets, gateway: GatewayProcess, workers: list[int]) -> None:
        self.sockets, self.gateway, self.workers = sockets, gateway, workers
        self.served_by: dict[str, int] = {}

    def peers(self) -> dict[int, frozenset[int]]:
        return {worker: tcp_sockets(worker, self.gateway.port).peers for worker in self.workers}

    async def open(self, name: str, path: str) -> int:
        before = self.peers()
        await self.sockets.open(name, self.gateway.ws + path)
        await self.sockets.opened(name)
        after = self.peers()
        gained = [worker for worker in self.workers if after[worker] - before[worker]]
        assert len(gained) == 1, f"socket {name!r}: new connections on {gained}, not on one worker"
        self.served_by[name] = gained[0]
        return gained[0]

    async def open_on(self, worker: int, prefix: str, path: str) -> str:
        """Open sockets of `path` until one lands on `worker`; return that socket's name."""
        for attempt in range(MAX_BROWSER_SOCKETS):
            name = f"{prefix}-{attempt}"
            if await self.open(name, path) == worker:
                return name
        pytest.fail(f"{MAX_BROWSER_SOCKETS} browser sockets and none on worker {worker}")


async def sigterm_closes_every_socket_with_1001(
    gateway: GatewayProcess, browser: BrowserOnWorkers, plain: list[WorkerClient]
) -> float:
    """SIGTERM to the supervisor: exit 0 within 5 s, and 1001 `shutdown` on every browser and plain
    socket of every worker. Returns the seconds to exit."""
    started = time.monotonic()
    code = await asyncio.to_thread(gateway.stop, signal.SIGTERM, 10)
    stop_seconds = time.monotonic() - started
    assert code == 0
    assert stop_seconds < timeout(5)
    for name in browser.served_by:
        close = await browser.sockets.closed(name)
        assert (close["code"], close["reason"]) == (1001, "shutdown"), name
    for client in plain:
        with pytest.raises(ConnectionClosed) as closed:
            await client.progress.connection.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "shutdown")
    return stop_seconds
