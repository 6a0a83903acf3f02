"""What a browser may send: oversized and binary frames and floods end the connection; noise does not."""

from __future__ import annotations

import uuid

import pytest

from testkit.browser import BrowserSockets
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Sends `text` every 10 ms (about 100 messages a second) for at most 4 s, or until the socket closes.
FLOOD_JS = """
([name, text]) => {
  const s = window.sockets[name];
  s.floodSent = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    if (s.ws.readyState !== WebSocket.OPEN || Date.now() - started > 4000) { clearInterval(timer); return; }
    s.ws.send(text);
    s.floodSent += 1;
  }, 10);
}
"""


async def open_story(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await sockets.open("ws", f"{gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}")
    await sockets.opened("ws")
    await sockets.send("ws", "ping")
    await sockets.text_count("ws", "pong", 1)


async def test_frame_over_4_kib_is_closed_1009(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    await open_story(sockets, gateway, tokens, database)
    await sockets.send("ws", "x" * 5000)
    close = await sockets.closed("ws")
    # The app itself refuses it (uvicorn buffers up to 64 KiB), through a full closing handshake.
    assert (close["code"], close["reason"], close["wasClean"]) == (1009, "too_big", True), close


@pytest.mark.parametrize(("size", "clean"), [(65_536, True), (262_144, False)])
async def test_larger_frames_are_closed_1009(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    sockets: BrowserSockets,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    size: int,
    clean: bool,
) -> None:
    """Several sockets, each sending one frame of `size` bytes: every one must see 1009, never 1006.

    Up to 64 KiB the app refuses the frame through a full closing handshake. Beyond that uvicorn
    refuses it before buffering it; the server then sends 1009 and half-closes (a plain close would
    reset the connection while the browser is still writing, and the browser would see 1006), but
    whether the browser then calls the close clean depends on when it finishes writing.
    """
    user = uuid.uuid4()
    story = await new_story(database, user)
    names = [f"big-{n}" for n in range(4)]
    for name in names:
        await sockets.open(name, f"{gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}")
    for name in names:
        await sockets.opened(name)
        await sockets.send(name, "ping")
        await sockets.text_count(name, "pong", 1)
    for name in names:
        await sockets.send(name, "x" * size)
    seen = [await sockets.closed(name) for name in names]
    assert [c["code"] for c in seen] == [1009] * len(names), seen
    if clean:
        assert all(c["wasClean"] and c["reason"] == "too_big" for c in seen), seen


async def test_binary_frame_is_closed_1003(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    await open_story(sockets, gateway, tokens, database)
    await sockets.send_binary("ws", 16)
    close = await sockets.closed("ws")
    assert (close["code"], close["reason"], close["wasClean"]) == (1003, "binary_unsupported", True)


async def test_flood_is_closed_1008(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    await open_story(sockets, gateway, tokens, database)
    await sockets.page.evaluate(FLOOD_JS, ["ws", "noise"])
    close = await sockets.closed("ws", seconds=8)
    assert (close["code"], close["reason"], close["wasClean"]) == (1008, "flood", True)
    sent = await sockets.page.evaluate("() => window.sockets.ws.floodSent")
    assert sent > 20, f"the page sent only {sent} messages before the close"


async def test_unknown_text_is_ignored(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    await open_story(sockets, gateway, tokens, database)
    for text in ["hello", "{}", '{"type": "subscribe"}', "PING", "auth", "x" * 4000, "pong"]:
        await sockets.send("ws", text)
    await sockets.send("ws", "ping")
    state = await sockets.text_count("ws", "pong", 2)
    assert state["messages"] == ["pong", "pong"]
    assert state["close"] is None
    assert state["readyState"] == 1
