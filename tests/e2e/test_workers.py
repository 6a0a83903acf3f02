"""`serve --workers 2` in Chromium: browsers and plain clients spread over both workers each get
every update of their story, a dashboard on one worker sees a story whose socket sits on the
other, and SIGTERM to the supervisor closes every socket of every worker with 1001 and exits 0.

Which worker serves a socket is read from /proc: the worker whose accepted connections gained the
socket's peer (testkit.processes.tcp_sockets), so no debug hook is needed in the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import pytest_asyncio
from playwright.async_api import Page
from websockets.exceptions import ConnectionClosed

from testkit.browser import BrowserSockets
from testkit.clients import WorkerClient, clients_on_workers
from testkit.postgres import Database
from testkit.processes import GatewayProcess, tcp_sockets
from testkit.waiting import timeout
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")
logger = logging.getLogger(__name__)
MAX_BROWSER_SOCKETS = 20


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


@pytest_asyncio.fixture(loop_scope="session")
async def workers_gateway(e2e_env: dict[str, str]) -> AsyncIterator[GatewayProcess]:
    process = GatewayProcess(e2e_env, command=("serve", "--workers", "2"))
    await asyncio.to_thread(process.start, ready=True)
    await asyncio.to_thread(process.wait_workers, 2)
    yield process
    if process.process is not None:
        await asyncio.to_thread(process.stop)


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


async def test_two_workers_serve_every_client_and_sigterm_closes_all_with_1001(
    workers_gateway: GatewayProcess,
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    gateway = workers_gateway
    workers = gateway.serving_workers()
    user = uuid.uuid4()
    token = tokens.valid(user)
    old_story = await new_story(database, user)
    await publisher.publish(old_story, "generating", 10, "Writing chapter 1")
    sockets = await BrowserSockets.on(page, gateway.http)
    browser = BrowserOnWorkers(sockets, gateway, workers)

    dash_worker = await browser.open("dash", f"/ws/user/stories?token={token}")
    await sockets.progress_where("dash", f"p.story_id === '{old_story}'")
    (other_worker,) = set(workers) - {dash_worker}
    late_story = await new_story(database, user)  # created after the dashboard connected
    late_socket = await browser.open_on(
        other_worker, "late", f"/ws/stories/{late_story}/progress?token={token}"
    )
    old_socket = await browser.open_on(dash_worker, "old", f"/ws/stories/{old_story}/progress?token={token}")
    async with AsyncExitStack() as stack:
        plain = await clients_on_workers(
            stack, gateway, f"/ws/stories/{old_story}/progress?token={token}", workers
        )
        assert {c.worker for c in plain} == set(workers)

        await publisher.publish(late_story, "analyzing", 5, "Cloning the repository")
        await publisher.publish(late_story, "generating", 40, "Writing chapter 2")
        await publisher.publish(old_story, "generating", 60, "Writing chapter 3")
        await publisher.publish(old_story, "complete", 100, "Your story is ready")

        seen = await sockets.progress_where(late_socket, "p.seq === 2")
        assert [(p["seq"], p["progress_percent"]) for p in seen] == [(1, 5), (2, 40)]
        seen = await sockets.progress_where(old_socket, "p.seq === 3")
        assert [(p["seq"], p["progress_percent"]) for p in seen] == [(1, 10), (2, 60), (3, 100)]
        for client in plain:
            await client.progress.read_seq(3)
            assert [(m["seq"], m["progress_percent"]) for m in client.progress.received] == [
                (1, 10),
                (2, 60),
                (3, 100),
            ]
        seen = await sockets.progress_where("dash", f"p.story_id === '{late_story}' && p.seq === 2")
        assert [(p["seq"], p["progress_percent"]) for p in seen if p["story_id"] == str(late_story)] == [
            (1, 5),
            (2, 40),
        ]
        await sockets.progress_where("dash", f"p.story_id === '{old_story}' && p.seq === 3")

        stop_seconds = await sigterm_closes_every_socket_with_1001(gateway, browser, plain)
    logger.info(
        "%d browser sockets on workers %s, %d plain clients; SIGTERM to exit 0 in %.2f s",
        len(browser.served_by),
        sorted(set(browser.served_by.values())),
        len(plain),
        stop_seconds,
    )
    assert token not in gateway.log()
