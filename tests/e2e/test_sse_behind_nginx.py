"""Server-Sent Events behind Debian's nginx with the configuration of docs/operations.md, in Chromium:
over HTTP/1.1 each update reaches the page as it is published (nothing buffered), 4001 and 4003
come through as closes, and no token reaches nginx's access log; over TLS with HTTP/2 (a certificate
the test makes, which Chromium is told to accept) the page's streams share one connection."""

from __future__ import annotations

import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from testkit.client_page import ClientPage, events_of
from testkit.nginx import NginxProxy
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.tls import self_signed
from tests.e2e.conftest import Publisher, Tokens, new_story, start_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def upstream(e2e_env: dict[str, str]) -> Iterator[GatewayProcess]:
    gateway = start_ready(e2e_env)
    yield gateway
    if gateway.process is not None:
        gateway.stop(signal.SIGKILL)


@pytest_asyncio.fixture(loop_scope="session")
async def trusting_page(browser: Browser) -> AsyncIterator[Page]:
    """A page whose context accepts the test's self-signed certificate."""
    context = await browser.new_context(ignore_https_errors=True)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def sse_lines(proxy: NginxProxy) -> list[str]:
    return [line for line in proxy.access_log.read_text().splitlines() if '"GET /sse/' in line]


async def test_through_nginx_sse_delivers_each_update_as_published_and_every_close_code(
    upstream: GatewayProcess, page: Page, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    proxy = NginxProxy(upstream_port=upstream.port).start()
    try:
        user, stranger = uuid.uuid4(), uuid.uuid4()
        story, foreign = await new_story(database, user), await new_story(database, stranger)
        await publisher.publish(story, "analyzing", 10, "Reading the repository")
        client = await ClientPage.on(page, proxy.http)  # the page and the module through nginx too
        await client.story("story", story, token=tokens.valid(user), transport="sse")
        await client.dashboard("dash", token=tokens.valid(user), transport="sse")
        await client.story("bad", story, token=tokens.garbage(), transport="sse")
        await client.story("foreign", foreign, token=tokens.valid(user), transport="sse")
        for name in ("story", "dash"):
            await client.seq(name, story, 1)
        lags = []
        for seq, (status, percent) in enumerate((("generating", 40), ("synthesizing", 80)), start=2):
            published = time.time()
            await publisher.publish(story, status, percent, "Working")
            for name in ("story", "dash"):
                view = await client.seq(name, story, seq)
                lags.append(events_of(view, "update")[-1]["at"] - published)
        closes = {name: (await client.closes(name, 1))[0] for name in ("bad", "foreign")}
        views = {name: await client.view(name) for name in ("story", "dash")}
        for name in ("story", "dash"):
            await client.close(name)
    finally:
        proxy.stop()

    assert (closes["bad"]["code"], closes["bad"]["reason"], closes["bad"]["willReconnect"]) == (
        4001,
        "invalid_token",
        False,
    )
    assert (closes["foreign"]["code"], closes["foreign"]["reason"]) == (4003, "forbidden")
    for view in views.values():
        assert set(view["kinds"]) == {"sse"}
        assert [u["seq"] for u in events_of(view, "update")] == [1, 2, 3]
    assert max(lags) < 1.0, f"an update waited in a buffer: {lags}"
    log = proxy.access_log.read_text()
    assert f"/sse/stories/{story}/progress" in log
    assert " 401 " in log
    assert " 403 " in log
    assert [t for t in tokens.used if t in log] == [], "a token reached nginx's access log"


async def test_over_http2_the_page_s_streams_share_one_connection(
    upstream: GatewayProcess, trusting_page: Page, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tls-"))
    proxy = NginxProxy(upstream_port=upstream.port, tls=self_signed(folder)).start()
    try:
        user = uuid.uuid4()
        stories = [await new_story(database, user) for _ in range(3)]
        for story in stories:
            await publisher.publish(story, "generating", 20, "Writing chapter 1")
        client = await ClientPage.on(trusting_page, proxy.https)
        protocol = await trusting_page.evaluate(
            "() => performance.getEntriesByType('navigation')[0].nextHopProtocol"
        )
        for index, story in enumerate(stories):
            await client.story(f"story-{index}", story, token=tokens.valid(user), transport="sse")
        await client.dashboard("dash", token=tokens.valid(user), transport="sse")
        for index, story in enumerate(stories):
            await client.seq(f"story-{index}", story, 1)
            await client.seq("dash", story, 1)
        done = await publisher.publish(stories[0], "complete", 100, "Done")
        await client.seq("story-0", stories[0], done.seq)
        await client.seq("dash", stories[0], done.seq)
        for name in ("story-0", "story-1", "story-2", "dash"):
            await client.close(name)  # the streams end, and nginx writes their lines
    finally:
        proxy.stop()

    lines = sse_lines(proxy)
    connections = {line.split("conn=", 1)[1].split(" ", 1)[0] for line in lines}
    assert protocol == "h2"
    assert len(lines) == 4
    assert all("HTTP/2.0" in line for line in lines), lines
    assert len(connections) == 1, f"the page's 4 streams came over {len(connections)} connections: {lines}"
    assert [t for t in tokens.used if t in proxy.access_log.read_text()] == []
