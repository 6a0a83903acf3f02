"""The browser client (`/client.js`) in Chromium when something is wrong on its side of the wire: a
socket that cannot even be constructed, a close before the first connect, a malformed frame."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.async_api import Page

from testkit.client_page import ClientPage, events_of
from testkit.processes import GatewayProcess
from testkit.scripted_gateway import scripted_gateway

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Connect and close in one synchronous run, then let the microtasks and one task run.
CLOSE_AT_ONCE_JS = """
async ([base, storyId]) => {
  const client = await import("/client.js");
  const attempts = [];
  const WebSocket = class extends globalThis.WebSocket {
    constructor(url, protocols) { super(url, protocols); attempts.push(url); }
  };
  const conn = client.connectStory(base, storyId, {token: "t0ken", WebSocket});
  const closes = [];
  conn.addEventListener("close", (e) => closes.push(e.detail));
  conn.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  return {attempts, closes};
}
"""


async def test_a_socket_that_cannot_be_constructed_tells_the_listeners_added_after_connecting(
    page: Page, gateway: GatewayProcess
) -> None:
    client = await ClientPage.on(page, gateway.http)
    # A space cannot be in a subprotocol: `new WebSocket` throws inside `connectStory`'s connect.
    await client.story("bad", uuid.uuid4(), token="not a subprotocol")

    (close,) = await client.closes("bad", 1)
    view = await client.view("bad")

    assert (close["code"], close["willReconnect"]) == (1006, False)
    assert "SyntaxError" in close["reason"]
    assert "not a subprotocol" not in close["reason"]  # the browser's message quoted the token
    assert view["attempts"] == []


async def test_a_close_right_after_connecting_makes_no_handshake(page: Page, gateway: GatewayProcess) -> None:
    await ClientPage.on(page, gateway.http)

    seen = await page.evaluate(CLOSE_AT_ONCE_JS, [gateway.ws, str(uuid.uuid4())])

    assert seen["attempts"] == []
    assert seen["closes"] == [{"code": 1000, "reason": "client", "willReconnect": False}]


async def test_a_malformed_frame_is_reported_and_skipped_and_the_socket_stays_open(
    page: Page, gateway: GatewayProcess
) -> None:
    good = {"story_id": "s", "status": "generating", "progress_percent": 40, "seq": 4}
    frames = ["{not json", json.dumps({**good, "progress_percent": "40"}), json.dumps(good)]
    client = await ClientPage.on(page, gateway.http)

    async with scripted_gateway(frames) as stand_in:
        await client.story("story", "s", base=stand_in.url, token="t0ken")
        view = await client.seq("story", "s", 4)

    malformed = events_of(view, "malformed")
    assert [m["data"] for m in malformed] == frames[:2]
    assert "SyntaxError" in malformed[0]["error"]
    assert "progress_percent" in malformed[1]["error"]
    assert [u["seq"] for u in events_of(view, "update")] == [4]
    assert view["state"] == {**good, "stalled": False}  # the client exposes `stalled` on every state
    assert [e["type"] for e in view["events"] if e["type"] in ("open", "close")] == ["open"]
    assert stand_in.paths == ["/ws/stories/s/progress"]
