"""Clients of the gateway for the tests: a WebSocket stand-in for a browser, and HTTP probes."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from testkit.processes import GatewayProcess
from testkit.waiting import timeout


async def http_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET `url` without blocking the loop; the status and the JSON body, error statuses included."""

    def get() -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(url, timeout=timeout(5)) as response:  # noqa: S310 (test URL)
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read())

    return await asyncio.to_thread(get)


async def http_text(url: str) -> tuple[int, str]:
    """GET `url` without blocking the loop; the status and the body as text."""

    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=timeout(5)) as response:  # noqa: S310 (test URL)
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()

    return await asyncio.to_thread(get)


@dataclass
class ProgressClient:
    """A browser stand-in over `websockets`: reads progress messages and keeps them in arrival order."""

    connection: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)

    async def read_until(
        self, done: Callable[[dict[str, Any]], bool], seconds: float = 5.0
    ) -> dict[str, Any]:
        """Read until a progress message satisfies `done`, and return it; control texts are skipped."""
        try:
            async with asyncio.timeout(timeout(seconds)):
                while True:
                    text = await self.connection.recv()
                    if isinstance(text, str) and text.startswith("{"):
                        message: dict[str, Any] = json.loads(text)
                        self.received.append(message)
                        if done(message):
                            return message
        except TimeoutError:
            pytest.fail(f"no expected message within {timeout(seconds):.1f} s; last: {self.received[-3:]}")

    async def read_seq(self, seq: int, seconds: float = 5.0) -> dict[str, Any]:
        """Read until the client holds `seq` (or a newer one)."""
        return await self.read_until(lambda m: int(m.get("seq", 0)) >= seq, seconds)

    def seqs(self) -> list[int]:
        return [int(m["seq"]) for m in self.received if "seq" in m]


MAX_SPREAD_CLIENTS = 40  # enough for the kernel's SO_REUSEPORT hash to reach every worker


@dataclass
class WorkerClient:
    """A client of `serve --workers N`, and the pid of the worker that serves it."""

    progress: ProgressClient
    worker: int


async def served_client(stack: AsyncExitStack, gateway: GatewayProcess, path: str, seq: int) -> WorkerClient:
    """Connect to `path`, read until `seq` (so the client is served), and find its worker."""
    connection = await stack.enter_async_context(connect(gateway.ws + path, open_timeout=timeout(5)))
    client = ProgressClient(connection)
    await client.read_seq(seq)
    return WorkerClient(client, gateway.worker_serving(connection.local_address[1]))


async def clients_on_workers(
    stack: AsyncExitStack, gateway: GatewayProcess, path: str, workers: list[int], each: int = 1
) -> list[WorkerClient]:
    """Open clients of `path` until each of `workers` serves at least `each` of them (each client
    served: it read the story's first update, seq 1)."""
    clients: list[WorkerClient] = []
    while any(sum(c.worker == worker for c in clients) < each for worker in workers):
        if len(clients) == MAX_SPREAD_CLIENTS:
            pytest.fail(f"{MAX_SPREAD_CLIENTS} clients and still not {each} on each of {workers}")
        clients.append(await served_client(stack, gateway, path, 1))
    return clients


async def closed_connections(http: str, reason: str) -> float:
    """`gateway_connections_closed_total` for `reason`, summed over endpoints: handshakes the server
    closed for that reason (from its /metrics)."""
    status, text = await http_text(f"{http}/metrics")
    assert status == 200, f"/metrics answered {status}"
    pattern = re.compile(
        rf'^gateway_connections_closed_total\{{[^}}]*reason="{re.escape(reason)}"[^}}]*\}} (\S+)$'
    )
    return sum(float(m.group(1)) for line in text.splitlines() if (m := pattern.match(line)))


async def closed_within(connection: ClientConnection, seconds: float = 5.0) -> tuple[int, str, float]:
    """Read (and drop) until the server closes: its code, its reason, and the seconds it took.
    Fails if it is still open after `seconds` (scaled), or closes without a close frame."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(timeout(seconds)):
            while True:
                await connection.recv()
    except ConnectionClosed as closed:
        frame = closed.rcvd
    except TimeoutError:
        pytest.fail(f"still open after {timeout(seconds):.1f} s")
    if frame is None:
        pytest.fail("the server sent no close frame")
    return frame.code, frame.reason, loop.time() - start


async def close_code(connection: ClientConnection) -> int:
    """Read until the server closes; the code it sent."""
    code, _, _ = await closed_within(connection)
    return code


async def closed_with(url: str) -> tuple[int, str]:
    """Connect (the handshake must succeed), then read until the server closes: its code and reason."""
    async with connect(url, open_timeout=timeout(5)) as connection:
        code, reason, _ = await closed_within(connection)
    return code, reason
