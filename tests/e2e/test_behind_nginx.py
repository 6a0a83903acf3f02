"""Behind Debian's nginx, with the configuration of docs/operations.md: Chromium sees the snapshot, an
update, 4001, 4003, and 1001 when the gateway gets SIGTERM, codes and reasons intact, and nginx's
access log holds none of the tokens (given in query strings and as subprotocols). Its per-address
limits refuse a peer over them with 429 while peers from other addresses connect (clients bound to
other loopback addresses: 127.0.0.2, .3, .4)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack

import pytest
from playwright.async_api import Page
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from testkit.browser import BrowserSockets, progress_of
from testkit.clients import ProgressClient
from testkit.nginx import OPENS_BURST, STREAMS_PER_ADDRESS, NginxProxy
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.e2e.conftest import Publisher, Tokens, new_story, start_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def proxied_gateway(e2e_env: dict[str, str]) -> Iterator[tuple[GatewayProcess, NginxProxy]]:
    gateway = start_ready(e2e_env)
    proxy = NginxProxy(upstream_port=gateway.port).start()
    yield gateway, proxy
    proxy.stop()
    if gateway.process is not None:
        gateway.stop(signal.SIGKILL)


async def test_through_nginx_the_browser_sees_progress_and_every_close_code(
    proxied_gateway: tuple[GatewayProcess, NginxProxy],
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    gateway, proxy = proxied_gateway
    sockets = await BrowserSockets.on(page, proxy.http)  # the page itself comes through nginx
    user, stranger = uuid.uuid4(), uuid.uuid4()
    story, foreign = await new_story(database, user), await new_story(database, stranger)
    await publisher.publish(story, "analyzing", 10, "Reading the repository")
    token = tokens.valid(user)

    await sockets.open("story", f"{proxy.ws}/ws/stories/{story}/progress?token={token}")
    await sockets.open("dash", f"{proxy.ws}/ws/user/stories", ["bearer", tokens.valid(user)])
    for name in ("story", "dash"):
        assert (await sockets.opened(name))["opened"]
        snapshot = await sockets.progress_where(name, "p.status === 'analyzing'")
        assert [(p["status"], p["progress_percent"], p["seq"]) for p in snapshot] == [("analyzing", 10, 1)]
    await publisher.publish(story, "generating", 40, "Writing chapter 1")
    for name in ("story", "dash"):
        seen = await sockets.progress_where(name, "p.status === 'generating'")
        assert [(p["status"], p["seq"]) for p in seen] == [("analyzing", 1), ("generating", 2)]

    await sockets.open("bad-token", f"{proxy.ws}/ws/stories/{story}/progress?token={tokens.garbage()}")
    await sockets.open("foreign", f"{proxy.ws}/ws/stories/{foreign}/progress", ["bearer", token])
    closes = {name: await sockets.closed(name) for name in ("bad-token", "foreign")}
    assert (closes["bad-token"]["code"], closes["bad-token"]["reason"]) == (4001, "invalid_token")
    assert (closes["foreign"]["code"], closes["foreign"]["reason"]) == (4003, "forbidden")
    assert all(close["wasClean"] for close in closes.values())

    assert await asyncio.to_thread(gateway.stop, signal.SIGTERM, 10) == 0
    for name in ("story", "dash"):
        close = await sockets.closed(name)
        assert (close["code"], close["reason"], close["wasClean"]) == (1001, "shutdown", True)
        assert len(progress_of((await sockets.view(name))["messages"])) == 2

    proxy.stop()  # flushes and closes the access log
    access_log = proxy.access_log.read_text()
    assert f"/ws/stories/{story}/progress" in access_log  # the log was written, with paths
    assert "/ws/user/stories" in access_log
    assert " 101 " in access_log  # the upgrades went through nginx
    leaked = [t for t in tokens.used if t in access_log]
    assert leaked == [], "a token reached nginx's access log"
    assert "token=" not in access_log


async def open_from(address: str, url: str) -> ClientConnection | int:
    """A WebSocket from `address` (a loopback address of its own): the connection holding its
    snapshot, or the HTTP status that refused the upgrade."""
    try:
        connection = await connect(url, local_addr=(address, 0), open_timeout=timeout(5))
    except InvalidStatus as refused:
        return refused.response.status_code
    await ProgressClient(connection).read_seq(1)
    return connection


async def test_nginx_refuses_a_peer_over_its_per_address_limits_while_others_connect(
    proxied_gateway: tuple[GatewayProcess, NginxProxy],
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    _, proxy = proxied_gateway
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "generating", 30, "Writing chapter 1")
    url = f"{proxy.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}"
    async with AsyncExitStack() as stack:
        held = [await open_from("127.0.0.2", url) for _ in range(STREAMS_PER_ADDRESS)]
        for connection in held:
            assert isinstance(connection, ClientConnection)
            stack.push_async_callback(connection.close)
        over_streams = await open_from("127.0.0.2", url)
        neighbour = await open_from("127.0.0.3", url)
        assert isinstance(neighbour, ClientConnection)
        await neighbour.close()
        assert isinstance(held[0], ClientConnection)
        await held.pop(0).close()
        freed = await open_from("127.0.0.2", url)
        assert isinstance(freed, ClientConnection)
        stack.push_async_callback(freed.close)

        opens: list[ClientConnection | int] = []
        while len(opens) <= OPENS_BURST + 2 and not isinstance(
            opened := await open_from("127.0.0.4", url), int
        ):
            opens.append(opened)
            await opened.close()
        neighbour_after = await open_from("127.0.0.3", url)
        assert isinstance(neighbour_after, ClientConnection)
        await neighbour_after.close()

    proxy.stop()  # flushes the logs
    refusals = [line for line in proxy.error_log.read_text().splitlines() if "limiting " in line]
    assert over_streams == opened == 429
    assert len(opens) == OPENS_BURST + 1  # one at the rate, then the burst; the next is refused
    assert {_client_of(line) for line in refusals if "limiting connections" in line} == {"127.0.0.2"}
    assert {_client_of(line) for line in refusals if "limiting requests" in line} == {"127.0.0.4"}
    assert " 429 " in proxy.access_log.read_text()


def _client_of(error_line: str) -> str:
    return error_line.split("client: ", 1)[1].split(",", 1)[0]
