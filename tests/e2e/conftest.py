"""End-to-end fixtures: the real `serve` command, real Redis and PostgreSQL, real tokens, real Chromium.

Every assertion of the e2e layer is about what the browser saw: the page records each socket's
messages and its close event (code, reason, wasClean) in `window.sockets`, and the tests read
them back. All tests of this layer run on pytest-asyncio's session loop (`pytestmark` in each
module), so one Chromium serves the whole session.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout
from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from tests.services import Database, GatewayProcess, timeout, wait_until

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
LAST_TESTS = ("test_no_token_in_gateway_log",)

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The token-in-log check reads the shared gateway's log, so it runs after every other test."""
    items.sort(key=lambda item: getattr(item, "originalname", item.name) in LAST_TESTS)


def ms(seconds: float) -> float:
    """A Playwright timeout (milliseconds) in the tests' one timeout unit."""
    return timeout(seconds) * 1000


# --- tokens -------------------------------------------------------------------------------------


@dataclass
class Tokens:
    """Signs real HS256 tokens with the gateway's secret, and remembers every token handed out."""

    secret: str
    used: list[str] = field(default_factory=list)

    def _keep(self, token: str) -> str:
        self.used.append(token)
        return token

    def sign(self, claims: dict[str, Any], key: str | None = None, algorithm: str = "HS256") -> str:
        return self._keep(jwt.encode(claims, key or self.secret, algorithm=algorithm))

    def valid(self, user_id: uuid.UUID, ttl: float = 600) -> str:
        return self.sign({"sub": str(user_id), "exp": int(time.time() + ttl)})

    def expiring_at(self, user_id: uuid.UUID, exp: int) -> str:
        return self.sign({"sub": str(user_id), "exp": exp})

    def expired(self, user_id: uuid.UUID) -> str:
        return self.sign({"sub": str(user_id), "exp": int(time.time()) - 60})

    def wrong_key(self, user_id: uuid.UUID) -> str:
        return self.sign({"sub": str(user_id), "exp": int(time.time() + 600)}, key=secrets.token_hex(32))

    def alg_none(self, user_id: uuid.UUID) -> str:
        claims = {"sub": str(user_id), "exp": int(time.time() + 600)}
        return self._keep(jwt.encode(claims, None, algorithm="none"))

    def garbage(self) -> str:
        return self._keep(f"garbage-{secrets.token_hex(16)}")


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens(secret=secrets.token_urlsafe(48))


# --- the gateway --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_prefix() -> str:
    """This run's Redis key and channel prefix for the e2e gateways."""
    return f"e2e-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def gateway_env(redis_url: str, database: Database, tokens: Tokens, e2e_prefix: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database.url,
        "JWT_SECRET": tokens.secret,
        "REDIS_KEY_PREFIX": e2e_prefix,
    }


def start_ready(env: dict[str, str]) -> GatewayProcess:
    """Start `serve` and wait for /readyz: the broker subscription is up, nothing published is missed."""
    process = GatewayProcess(env).start()

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{process.http}/readyz", timeout=0.5) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    wait_until(ready, 20, f"/readyz of the gateway on port {process.port} (log: {process.log_path})")
    return process


@pytest.fixture(scope="session")
def gateway(gateway_env: dict[str, str]) -> Iterator[GatewayProcess]:
    """The gateway with default settings, shared by the session (its log is checked for tokens)."""
    process = start_ready(gateway_env)
    yield process
    if process.process is not None:
        process.stop()


# --- stories and progress -----------------------------------------------------------------------


async def new_story(database: Database, owner: uuid.UUID) -> uuid.UUID:
    story_id = uuid.uuid4()
    await database.insert_story(story_id, owner)
    return story_id


@dataclass
class Publisher:
    """A worker's side: the project's atomic publisher on real Redis, with the gateway's prefix."""

    inner: RedisProgressPublisher

    async def publish(self, story_id: uuid.UUID, status: str, percent: int, step: str) -> ProgressUpdate:
        update = ProgressUpdate(story_id, StoryStatus(status), percent, step, datetime.now(UTC))
        return await self.inner.publish(update)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def publisher(redis_url: str, e2e_prefix: str) -> AsyncIterator[Publisher]:
    client = Redis.from_url(redis_url)
    try:
        yield Publisher(RedisProgressPublisher(client, JsonCodec(), RedisKeys(e2e_prefix), ttl_seconds=600))
    finally:
        await client.aclose()


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is required at {CHROMIUM} (Debian package `chromium`) for the e2e tests")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def module_sockets(browser: Browser, gateway: GatewayProcess) -> AsyncIterator[BrowserSockets]:
    """One page for a whole module of short cases (each names its sockets uniquely)."""
    context = await browser.new_context()
    try:
        yield await BrowserSockets.on(await context.new_page(), gateway.http)
    finally:
        await context.close()


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
        try:
            await self.page.wait_for_function(
                f"(n) => {{ const s = window.sockets[n]; return Boolean({condition}); }}",
                arg=name,
                timeout=ms(seconds),
                polling=20,
            )
        except PlaywrightTimeout:
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


@pytest_asyncio.fixture(loop_scope="session")
async def sockets(page: Page, gateway: GatewayProcess) -> BrowserSockets:
    return await BrowserSockets.on(page, gateway.http)
