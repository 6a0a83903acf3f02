"""`serve --workers 2` in Chromium: browsers and plain clients spread over both workers each get
every update of their story, a dashboard on one worker sees a story whose socket sits on the
other, and SIGTERM to the supervisor closes every socket of every worker with 1001 and exits 0.

Which worker serves a socket is read from /proc: the worker whose accepted connections gained the
socket's peer (testkit.processes.tcp_sockets), so no debug hook is needed in the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import pytest_asyncio
from playwright.async_api import Page

from testkit.browser import BrowserSockets
from testkit.browser_workers import BrowserOnWorkers, sigterm_closes_every_socket_with_1001
from testkit.clients import clients_on_workers
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")
logger = logging.getLogger(__name__)


@pytest_asyncio.fixture(loop_scope="session")
async def workers_gateway(e2e_env: dict[str, str]) -> AsyncIterator[GatewayProcess]:
    process = GatewayProcess(e2e_env, command=("serve", "--workers", "2"))
    await asyncio.to_thread(process.start, ready=True)
    await asyncio.to_thread(process.wait_workers, 2)
    yield process
    if process.process is not None:
        await asyncio.to_thread(process.stop)


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
