"""Chromium for the tests: Debian's binary driven by Playwright, and a page that records its sockets.

Every assertion of the browser tests is about what Chromium saw: the page records each socket's
messages and its close event (code, reason, wasClean) in `window.sockets`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from testkit.waiting import timeout

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Installed in every page: one record per socket, filled by the browser's own event handlers.
SOCKETS_JS = """
() => {
  window.sockets = {};
  window.openSocket = (name, url, protocols) => {
    const entry = {messages: [], times: [], opened: false, openedAt: null, protocol: null, errors: 0,
                   close: null};
    const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
    ws.onopen = () => {
      entry.opened = true;
      entry.openedAt = Date.now() / 1000;
      entry.protocol = ws.protocol;
    };
    ws.onmessage = (e) => {
      entry.messages.push(typeof e.data === "string" ? e.data : "<binary>");
      entry.times.push(Date.now() / 1000);
    };
    ws.onerror = () => { entry.errors += 1; };
    ws.onclose = (e) => {
      entry.close = {code: e.code, reason: e.reason, wasClean: e.wasClean, at: Date.now() / 1000};
    };
    entry.ws = ws;
    window.sockets[name] = entry;
  };
  window.socketView = (name) => {
    const s = window.sockets[name];
    return {messages: s.messages, times: s.times, opened: s.opened, openedAt: s.openedAt,
            protocol: s.protocol, errors: s.errors, close: s.close, readyState: s.ws.readyState};
  };
}
"""


def ms(seconds: float) -> float:
    """A Playwright timeout (milliseconds) in the tests' one timeout unit."""
    return timeout(seconds) * 1000


async def holds_within(page: Page, function: str, arg: str, seconds: float) -> bool:
    """Whether the page's JS `function(arg)` becomes true within `seconds` (polled every 20 ms)."""
    try:
        await page.wait_for_function(function, arg=arg, timeout=ms(seconds), polling=20)
    except PlaywrightTimeout:
        return False
    return True


class BrowserSockets:
    """WebSockets opened by page JS; everything returned here was observed inside Chromium."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @classmethod
    async def on(cls, page: Page, origin: str) -> BrowserSockets:
        """Load an http page of `origin` (the gateway's /healthz) and install the socket recorder."""
        response = await page.goto(f"{origin}/healthz", timeout=ms(10))
        assert response is not None
        assert response.ok
        await page.evaluate(SOCKETS_JS)
        return cls(page)

    async def open(self, name: str, url: str, protocols: list[str] | None = None) -> None:
        await self.page.evaluate("([n, u, p]) => window.openSocket(n, u, p)", [name, url, protocols])

    async def view(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("(n) => window.socketView(n)", name)
        return result

    async def until(self, name: str, condition: str, seconds: float, what: str) -> dict[str, Any]:
        """Wait until the JS `condition` over `s` (the socket's record) holds; fail naming `what`."""
        function = f"(n) => {{ const s = window.sockets[n]; return Boolean({condition}); }}"
        if not await holds_within(self.page, function, name, seconds):
            pytest.fail(f"socket {name!r}: timed out waiting for {what}; browser saw {await self.view(name)}")
        return await self.view(name)

    async def opened(self, name: str, seconds: float = 5) -> dict[str, Any]:
        state = await self.until(name, "s.opened || s.close", seconds, "onopen")
        assert state["opened"], f"socket {name!r} never opened: {state}"
        return state

    async def send(self, name: str, data: str) -> None:
        await self.page.evaluate("([n, d]) => window.sockets[n].ws.send(d)", [name, data])

    async def send_binary(self, name: str, size: int) -> None:
        await self.page.evaluate(
            "([n, k]) => window.sockets[n].ws.send(new Uint8Array(k).fill(7))", [name, size]
        )

    async def text_count(self, name: str, text: str, count: int, seconds: float = 5) -> dict[str, Any]:
        condition = f"s.messages.filter((m) => m === {json.dumps(text)}).length >= {count}"
        return await self.until(name, condition, seconds, f"{count} x {text!r}")

    async def message_count(self, name: str, count: int, seconds: float = 5) -> list[str]:
        state = await self.until(name, f"s.messages.length >= {count}", seconds, f"{count} messages")
        return list(state["messages"])

    async def progress_where(self, name: str, js_predicate: str, seconds: float = 5) -> list[dict[str, Any]]:
        """Wait for a JSON message matching `js_predicate` over `p`; return all JSON messages seen."""
        condition = (
            "s.messages.some((m) => { if (m[0] !== '{') return false; const p = JSON.parse(m); "
            f"return {js_predicate}; }})"
        )
        state = await self.until(name, condition, seconds, f"a progress message with {js_predicate}")
        return progress_of(state["messages"])

    async def closed(self, name: str, seconds: float = 5) -> dict[str, Any]:
        state = await self.until(name, "s.close", seconds, "onclose")
        close: dict[str, Any] = state["close"]
        return close


def progress_of(messages: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in messages if m.startswith("{")]


def chromium_path() -> str:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is required at {CHROMIUM} (Debian package `chromium`) for the e2e tests")
    return str(CHROMIUM)


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium under Playwright (Playwright's own download is not reachable here)."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
