"""A page that runs the gateway's own browser client (`GET /client.js`) and records what it does.

Each connection gets a record in `window.follows[name]`: its events (`open`, `update`, `close`,
`renewed`, `malformed`, `transport`) with the browser's clock, the times it constructed a
WebSocket or called `fetch` for a stream (its attempts; `kinds` says which), and the calls of its
`onAuthError` hook. Everything returned here was observed inside Chromium.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from testkit.browser import holds_within, ms

# Hooks cannot cross from Python: `renewTokens` become `getToken` (handed out in order, the last
# one repeated) and `authRetryToken` becomes `onAuthError`'s answer.
FOLLOW_JS = """
async (module) => {
  const client = await import(module);
  window.follows = {};
  window.follow = (name, kind, base, storyId, options) => {
    const rec = {events: [], attempts: [], kinds: [], authErrors: [], getTokenCalls: 0};
    const opts = {...options};
    delete opts.renewTokens; delete opts.authRetryToken;
    const attempt = (kind) => { rec.attempts.push(Date.now() / 1000); rec.kinds.push(kind); };
    if (window.WebSocket) {
      opts.WebSocket = class extends WebSocket {
        constructor(url, protocols) { super(url, protocols); attempt("websocket"); }
      };
    }
    opts.fetch = (url, init) => { attempt("sse"); return fetch(url, init); };
    if (options.renewTokens) {
      const queue = [...options.renewTokens];
      opts.getToken = async () => {
        rec.getTokenCalls += 1;
        return queue.length > 1 ? queue.shift() : queue[0];
      };
    }
    if ("authRetryToken" in options) {
      opts.onAuthError = async (detail) => { rec.authErrors.push(detail); return options.authRetryToken; };
    }
    const conn = kind === "story" ? client.connectStory(base, storyId, opts)
                                  : client.connectDashboard(base, opts);
    for (const type of ["open", "update", "close", "renewed", "malformed", "transport"]) {
      conn.addEventListener(type, (e) => rec.events.push({type, detail: e.detail, at: Date.now() / 1000}));
    }
    rec.conn = conn;
    window.follows[name] = rec;
  };
  window.followView = (name) => {
    const r = window.follows[name];
    return {events: r.events, attempts: r.attempts, kinds: r.kinds, authErrors: r.authErrors,
            getTokenCalls: r.getTokenCalls, transport: r.conn.transport,
            state: r.conn.state ?? null,
            states: r.conn.states ? Object.fromEntries(r.conn.states) : null};
  };
}
"""


class ClientPage:
    """Connections made by `client.js` in one page of the gateway's origin."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base

    @classmethod
    async def on(cls, page: Page, origin: str) -> ClientPage:
        """Open `origin`'s /healthz (same origin as /client.js) and import the client module."""
        response = await page.goto(f"{origin}/healthz", timeout=ms(10))
        assert response is not None
        assert response.ok
        return await cls.loaded(page, "/client.js", origin.replace("http", "ws", 1))

    @classmethod
    async def loaded(cls, page: Page, module: str, base: str) -> ClientPage:
        """Import the client from `module` (a URL, or a name the page's import map resolves) into the
        page already open; connections go to `base` (ws://host:port)."""
        await page.evaluate(FOLLOW_JS, module)
        return cls(page, base)

    async def story(self, name: str, story_id: object, base: str | None = None, **options: Any) -> None:
        """Follow a story on this page's gateway, or on `base`."""
        await self._follow(name, "story", str(story_id), base or self.base, options)

    async def dashboard(self, name: str, **options: Any) -> None:
        await self._follow(name, "dashboard", None, self.base, options)

    async def _follow(
        self, name: str, kind: str, story: str | None, base: str, options: dict[str, Any]
    ) -> None:
        await self.page.evaluate(
            "([n, k, b, s, o]) => window.follow(n, k, b, s, o)", [name, kind, base, story, options]
        )

    async def view(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("(n) => window.followView(n)", name)
        return result

    async def close(self, name: str) -> None:
        await self.page.evaluate("(n) => window.follows[n].conn.close()", name)

    async def until(self, name: str, condition: str, seconds: float, what: str) -> dict[str, Any]:
        """Wait until the JS `condition` over `r` (the record) and `c` (the connection) holds."""
        function = f"(n) => {{ const r = window.follows[n]; const c = r.conn; return Boolean({condition}); }}"
        if not await holds_within(self.page, function, name, seconds):
            pytest.fail(f"client {name!r}: timed out waiting for {what}; it saw {await self.view(name)}")
        return await self.view(name)

    async def opened(self, name: str, count: int = 1, seconds: float = 5) -> dict[str, Any]:
        condition = f"r.events.filter((e) => e.type === 'open').length >= {count}"
        return await self.until(name, condition, seconds, f"{count} open event(s)")

    async def seq(self, name: str, story_id: object, seq: int, seconds: float = 5) -> dict[str, Any]:
        """Wait until the connection holds `seq` (or newer) for the story."""
        held = f"(c.states ? c.states.get('{story_id}') : c.state)"
        return await self.until(name, f"{held} && {held}.seq >= {seq}", seconds, f"seq {seq} of {story_id}")

    async def closes(self, name: str, count: int, seconds: float = 5) -> list[dict[str, Any]]:
        condition = f"r.events.filter((e) => e.type === 'close').length >= {count}"
        return events_of(await self.until(name, condition, seconds, f"{count} close event(s)"), "close")


def events_of(view: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The events of one type, each as its detail plus `at` (browser clock, seconds)."""
    return [{**(e["detail"] or {}), "at": e["at"]} for e in view["events"] if e["type"] == kind]
