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
