"""The browser client (`/client.js`) in Chromium across outages: a server restart on the same port,
the browser going offline, and the backoff while the server is down; the restart and the backoff
over SSE as over WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import signal
import statistics
import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import Page

from testkit.client_page import ClientPage, events_of
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Publisher, Tokens, new_story, start_ready

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def restartable(e2e_env: dict[str, str]) -> Iterator[list[GatewayProcess]]:
    """Gateways of this test, all on one port; the last one is stopped at the end."""
    processes = [start_ready(e2e_env)]
    yield processes
    if processes[-1].process is not None:
        processes[-1].stop(signal.SIGKILL)


async def restart(processes: list[GatewayProcess]) -> tuple[float, float]:
    """SIGTERM the gateway, then start a new one on the same port; (seconds to exit, to ready)."""
    old = processes[-1]
    started = time.monotonic()
    assert await asyncio.to_thread(old.stop, signal.SIGTERM, 5) == 0
    stopped = time.monotonic()
    processes.append(await asyncio.to_thread(GatewayProcess(old.env, port=old.port).start, ready=True))
    return stopped - started, time.monotonic() - stopped


@pytest.mark.parametrize("transport", ["auto", "sse"])
async def test_page_reconnects_after_a_server_restart_and_shows_the_final_state(
    transport: str,
    restartable: list[GatewayProcess],
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "generating", 40, "Writing chapter 2")
    client = await ClientPage.on(page, restartable[0].http)
    await client.story("story", story, token=tokens.valid(user), transport=transport)
    await client.dashboard("dash", token=tokens.valid(user), transport=transport)
    for name in ("story", "dash"):
        await client.seq(name, story, 1)

    sigterm_at = time.time()
    exit_seconds, ready_seconds = await restart(restartable)
    ready_at = time.time()
    final = await publisher.publish(story, "complete", 100, "Your story is ready")
    published_at = time.time()

    for name in ("story", "dash"):
        view = await client.seq(name, story, final.seq, seconds=15)
        held = view["state"] if name == "story" else view["states"][str(story)]
        assert (held["status"], held["progress_percent"], held["seq"]) == ("complete", 100, 2)
        closes = events_of(view, "close")
        assert (closes[0]["code"], closes[0]["reason"], closes[0]["willReconnect"]) == (
            1001,
            "shutdown",
            True,
        )
        assert all(c["willReconnect"] for c in closes), closes  # 1001, then 1006 while the port is closed
        opens = events_of(view, "open")
        assert len(opens) == 2
        assert opens[1]["at"] >= ready_at - 1
        updates = events_of(view, "update")
        seqs = [u["seq"] for u in updates]  # 1 again as the new socket's snapshot, or 2 as snapshot too
        assert seqs in ([1, 2], [1, 1, 2], [1, 2, 2]), seqs
        figures = {
            "sigterm_to_close_event": closes[0]["at"] - sigterm_at,
            "gateway_exit": exit_seconds,
            "new_gateway_ready": ready_seconds,
            "attempts_while_down": len(closes) - 1,
            "ready_to_reopened": opens[1]["at"] - ready_at,
            "publish_to_update": updates[-1]["at"] - published_at,
            "sigterm_to_final_state": updates[-1]["at"] - sigterm_at,
        }
        print(f"restart delays ({name}, {transport}): {[c['delayMs'] for c in closes]}")  # noqa: T201
        shown = ", ".join(f"{k}={v:.3f}" for k, v in figures.items())
        print(f"restart figures ({name}, {transport}): {shown}")  # noqa: T201


async def test_page_offline_then_online_shows_the_updates_published_meanwhile(
    gateway: GatewayProcess, page: Page, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "analyzing", 10, "Reading the code")
    client = await ClientPage.on(page, gateway.http)
    # A backoff floor of 3 s: reconnecting within 1 s of `online` is the module's `online` handler.
    await client.story("story", story, token=tokens.valid(user), minDelayMs=3000, maxDelayMs=6000)
    await client.seq("story", story, 1)

    await page.context.set_offline(True)
    view = await client.closes("story", 1)
    assert (view[0]["code"], view[0]["reason"], view[0]["willReconnect"]) == (1006, "offline", True)
    await publisher.publish(story, "generating", 50, "Writing chapter 3")
    last = await publisher.publish(story, "synthesizing", 90, "Recording the narration")
    online_at = time.time()
    await page.context.set_offline(False)

    view = await client.seq("story", story, last.seq)
    assert (view["state"]["status"], view["state"]["progress_percent"]) == ("synthesizing", 90)
    opens = events_of(view, "open")
    assert len(opens) == 2
    # `online` reconnects at once, not after the pending backoff delay (3 s at least).
    assert opens[1]["at"] - online_at < 2.5, f"reopened {opens[1]['at'] - online_at:.2f} s after online"
    assert [u["seq"] for u in events_of(view, "update")] == [1, 3]


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_backoff_while_the_server_is_down_is_spaced_growing_and_jittered(
    transport: str, restartable: list[GatewayProcess], page: Page, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    client = await ClientPage.on(page, restartable[0].http)
    low, high = 50, 1000
    await client.story(
        "story", story, token=tokens.valid(user), minDelayMs=low, maxDelayMs=high, transport=transport
    )
    await client.opened("story")

    await asyncio.to_thread(restartable[0].stop, signal.SIGTERM, 5)
    closes = await client.closes("story", 9, seconds=15)  # 1001, then 8 refused attempts
    down_handshakes = len((await client.view("story"))["attempts"]) - 1
    restartable.append(
        await asyncio.to_thread(
            GatewayProcess(restartable[0].env, port=restartable[0].port).start, ready=True
        )
    )
    view = await client.opened("story", count=2, seconds=10)

    attempts = view["attempts"]
    assert set(view["kinds"]) == {transport}
    delays = [c["delayMs"] for c in closes[:8]]
    assert [c["attempt"] for c in closes[:8]] == list(range(8))
    assert [c["code"] for c in closes[:2]] == [1001, 1006]
    for n, delay in enumerate(delays):  # min + full jitter within a window that doubles, capped
        assert low <= delay <= min(high, low + min(high, low * 2**n)), (n, delays)
    # Spaced as announced: each new handshake waited (at least) the delay announced at the close.
    for close, next_attempt in zip(closes[:8], attempts[1:9], strict=True):
        assert next_attempt - close["at"] >= close["delayMs"] / 1000 - 0.01, (closes, attempts)
    assert statistics.mean(delays[4:8]) > statistics.mean(delays[:2]), delays  # growing
    assert len(set(delays)) >= 6, delays  # jittered, not a fixed schedule
    assert down_handshakes <= 10, f"{down_handshakes} handshakes in {attempts[9] - attempts[0]:.1f} s"
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert min(gaps[:8]) >= low / 1000 - 0.01, gaps  # never a tight loop


async def test_a_tab_visible_again_after_a_drop_reconnects_at_once(
    restartable: list[GatewayProcess], page: Page, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    client = await ClientPage.on(page, restartable[0].http)
    await client.story("story", story, token=tokens.valid(user), minDelayMs=15000, maxDelayMs=20000)
    await client.opened("story")

    await restart(restartable)
    (close,) = await client.closes("story", 1)
    # Headless Chromium never hides a tab, so the page says it was hidden and is visible again.
    visible_at = await page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
          document.dispatchEvent(new Event("visibilitychange"));
          return Date.now() / 1000;
        }"""
    )
    view = await client.opened("story", count=2)

    (_, reopened) = events_of(view, "open")
    assert (close["code"], close["willReconnect"]) == (1001, True)
    assert reopened["at"] < close["at"] + close["delayMs"] / 1000 - 1, (close, reopened)  # not the backoff
    assert reopened["at"] - visible_at < 2.0
    assert len(view["attempts"]) == 2
