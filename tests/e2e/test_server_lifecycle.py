"""Gateways of their own: a graceful SIGTERM (1001 in the browser, exit 0) and keepalive pings."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import Page

from testkit.browser import BrowserSockets, progress_of
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.e2e.conftest import Publisher, Tokens, new_story, start_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def own_gateway(e2e_env: dict[str, str]) -> Iterator[GatewayProcess]:
    process = start_ready(e2e_env)
    yield process
    if process.process is not None:
        process.stop(signal.SIGKILL)


@pytest.fixture
def keepalive_gateway(e2e_env: dict[str, str]) -> Iterator[GatewayProcess]:
    process = start_ready({**e2e_env, "KEEPALIVE_SECONDS": "1"})
    yield process
    process.stop()


async def test_sigterm_closes_browsers_1001_and_exits_0(
    own_gateway: GatewayProcess,
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    sockets = await BrowserSockets.on(page, own_gateway.http)
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "generating", 45, "Writing chapter 2")
    token = tokens.valid(user)
    await sockets.open("story", f"{own_gateway.ws}/ws/stories/{story}/progress?token={token}")
    await sockets.open("dash", f"{own_gateway.ws}/ws/user/stories", ["bearer", token])
    for name in ("story", "dash"):
        await sockets.opened(name)
        await sockets.send(name, "ping")
        state = await sockets.text_count(name, "pong", 1)
        assert [p["seq"] for p in progress_of(state["messages"])] == [1]

    started = time.monotonic()
    code = await asyncio.to_thread(own_gateway.stop, signal.SIGTERM, 5)
    elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < timeout(5)

    for name in ("story", "dash"):
        close = await sockets.closed(name)
        # Not `wasClean`: uvicorn's shutdown closes the TCP connection right after the close frame,
        # without waiting for the browser's answer, so Chromium sometimes reports an unclean close.
        assert (close["code"], close["reason"]) == (1001, "shutdown")
    log = own_gateway.log()
    assert token not in log


async def test_idle_browser_receives_keepalive_ping(
    keepalive_gateway: GatewayProcess, page: Page, tokens: Tokens, database: Database
) -> None:
    sockets = await BrowserSockets.on(page, keepalive_gateway.http)
    user = uuid.uuid4()
    story = await new_story(database, user)
    await sockets.open(
        "idle", f"{keepalive_gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}"
    )
    opened = await sockets.opened("idle")
    state = await sockets.text_count("idle", "ping", 1, seconds=5)
    assert set(state["messages"]) == {"ping"}
    assert state["close"] is None
    # The server waited for about KEEPALIVE_SECONDS of silence before pinging.
    assert state["times"][0] - opened["openedAt"] >= 0.8

    await sockets.send("idle", "pong")  # the page answers as the demo page does; it stays open
    state = await sockets.text_count("idle", "ping", 2, seconds=5)
    assert state["close"] is None
    assert state["readyState"] == 1
