"""End-to-end fixtures: the real `serve` command, real Redis and PostgreSQL, real tokens, real Chromium.

Every assertion of the e2e layer is about what the browser saw (`testkit.browser`). All tests of
this layer run on pytest-asyncio's session loop (`pytestmark` in each module), so one Chromium
serves the whole session.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.browser import BrowserSockets, launched_chromium
from testkit.postgres import Database
from testkit.processes import GatewayProcess, gateway_env

LAST_TESTS = ("test_no_token_in_gateway_log",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The token-in-log check reads the shared gateway's log, so it runs after every other test."""
    items.sort(key=lambda item: getattr(item, "originalname", item.name) in LAST_TESTS)


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
def e2e_env(redis_url: str, database: Database, tokens: Tokens, e2e_prefix: str) -> dict[str, str]:
    return gateway_env(redis_url, database.url, tokens.secret, e2e_prefix)


def start_ready(env: dict[str, str]) -> GatewayProcess:
    """Start `serve` and wait for /readyz: the broker subscription is up, nothing published is missed."""
    return GatewayProcess(env).start(ready=True)


@pytest.fixture(scope="session")
def gateway(e2e_env: dict[str, str]) -> Iterator[GatewayProcess]:
    """The gateway with default settings, shared by the session (its log is checked for tokens)."""
    process = start_ready(e2e_env)
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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


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


@pytest_asyncio.fixture(loop_scope="session")
async def sockets(page: Page, gateway: GatewayProcess) -> BrowserSockets:
    return await BrowserSockets.on(page, gateway.http)
