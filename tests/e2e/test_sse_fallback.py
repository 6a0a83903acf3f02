"""Where WebSockets cannot pass, the browser client with default options falls back to Server-Sent
Events by itself, and shows every update of a story through to `complete`: behind a proxy that
completes the upgrade and kills the tunnel 200 ms later, and behind one that refuses the upgrade.
Also: a page without `WebSocket` starts on SSE.
The fallback's timeline (first failed attempt to first update over SSE) is printed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
import pytest_asyncio
from playwright.async_api import Page

from testkit.browser import ms
from testkit.client_page import ClientPage, events_of
from testkit.flaky_proxy import FlakyProxy
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

STEPS = (
    ("generating", 40, "Writing chapter 1"),
    ("synthesizing", 80, "Recording"),
    ("complete", 100, "Done"),
)


@pytest_asyncio.fixture(loop_scope="session")
async def proxies(gateway: GatewayProcess) -> AsyncIterator[dict[str, FlakyProxy]]:
    started = {mode: await FlakyProxy(gateway.port, mode).start() for mode in ("cut", "refuse")}
    yield started
    for proxy in started.values():
        await proxy.stop()


async def fall_back_and_follow(
    page: Page, proxy: FlakyProxy, tokens: Tokens, database: Database, publisher: Publisher
) -> dict[str, Any]:
    """The page behind `proxy` follows a story with default options; once it is on SSE, the story
    goes on to `complete`. Returns what the page saw."""
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "analyzing", 10, "Reading the repository")
    client = await ClientPage.on(page, proxy.http)
    await client.story("story", story, token=tokens.valid(user))
    await client.until("story", "r.kinds.includes('sse') && c.state", 20, "an SSE stream with the snapshot")
    for status, percent, step in STEPS:
        await publisher.publish(story, status, percent, step)
    return await client.seq("story", story, 1 + len(STEPS), seconds=10)


def timeline(view: dict[str, Any]) -> dict[str, float]:
    """From the first WebSocket attempt to the first update over SSE, and its parts."""
    first_sse = view["kinds"].index("sse")
    sse_at = view["attempts"][first_sse]
    first_sse_update = next(u for u in events_of(view, "update") if u["at"] >= sse_at)
    return {
        "first_attempt_to_sse_attempt": sse_at - view["attempts"][0],
        "sse_attempt_to_first_update": first_sse_update["at"] - sse_at,
        "first_attempt_to_first_sse_update": first_sse_update["at"] - view["attempts"][0],
    }


@pytest.mark.parametrize("mode", ["cut", "refuse"])
async def test_with_default_options_the_page_ends_up_on_sse_and_shows_every_update(
    mode: Literal["cut", "refuse"],
    proxies: dict[str, FlakyProxy],
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    proxy = proxies[mode]
    upgrades_before = len(proxy.upgrades)

    view = await fall_back_and_follow(page, proxy, tokens, database, publisher)

    figures = timeline(view)
    print(f"fallback timeline behind a proxy that {mode}s: {figures}")  # noqa: T201
    assert view["kinds"][:4] == ["websocket", "websocket", "websocket", "sse"]
    assert len(proxy.upgrades) - upgrades_before == 3
    if mode == "cut":
        assert len(proxy.cuts) >= 3
    transports = events_of(view, "transport")
    assert [(t["transport"], t["reason"]) for t in transports] == [("sse", "websocket_failed")]
    assert view["transport"] == "sse"
    statuses = [u["status"] for u in events_of(view, "update") if u["at"] >= view["attempts"][3]]
    assert statuses == ["analyzing", "generating", "synthesizing", "complete"]
    assert (view["state"]["status"], view["state"]["progress_percent"]) == ("complete", 100)
    closes = events_of(view, "close")
    assert [c["code"] for c in closes[:3]] == [1006, 1006, 1006]
    assert all(c["willReconnect"] for c in closes)
    opens = events_of(view, "open")
    assert opens[-1]["transport"] == "sse"
    assert figures["first_attempt_to_first_sse_update"] < 10


async def test_a_page_without_websocket_starts_on_sse(
    page: Page, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "analyzing", 10, "Reading the repository")
    await page.goto(f"{gateway.http}/healthz", timeout=ms(10))
    await page.evaluate("() => { delete window.WebSocket; }")
    client = await ClientPage.loaded(page, "/client.js", gateway.ws)
    await client.dashboard("dash", token=tokens.valid(user))
    await client.seq("dash", story, 1)
    await publisher.publish(story, "complete", 100, "Your story is ready")
    view = await client.seq("dash", story, 2)

    assert set(view["kinds"]) == {"sse"}
    assert [(t["transport"], t["reason"]) for t in events_of(view, "transport")] == [
        ("sse", "websocket_missing")
    ]
    assert [u["seq"] for u in events_of(view, "update")] == [1, 2]
