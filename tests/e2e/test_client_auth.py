"""The browser client (`/client.js`) and tokens, over WebSocket and over SSE alike: 4001 stops it
after at most one more attempt (counted at the server), and a renewed token keeps it following past
the first `exp` (in band over WebSocket; over SSE a new stream, the old one ended silently)."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.async_api import Page

from testkit.browser import ms
from testkit.client_page import ClientPage, events_of
from testkit.clients import closed_connections
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

AUTH_REASONS = ("token_expired", "invalid_token")
TRANSPORTS = pytest.mark.parametrize("transport", ["websocket", "sse"])


async def auth_closes(gateway: GatewayProcess) -> dict[str, float]:
    return {reason: await closed_connections(gateway.http, reason) for reason in AUTH_REASONS}


async def quiet_for(page: Page, seconds: float) -> None:
    """Let the browser's clock run `seconds` on: time for a client that wrongly retries to do so."""
    deadline = time.time() + seconds
    await page.wait_for_function(f"() => Date.now() / 1000 > {deadline}", timeout=ms(seconds + 5), polling=50)


@TRANSPORTS
async def test_expired_token_then_a_revoked_one_stops_after_one_more_handshake(
    transport: str, gateway: GatewayProcess, page: Page, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    before = await auth_closes(gateway)
    client = await ClientPage.on(page, gateway.http)
    await client.story(
        "story",
        story,
        token=tokens.expired(user),
        authRetryToken=tokens.wrong_key(user),
        minDelayMs=20,
        transport=transport,
    )

    closes = await client.closes("story", 2)
    await quiet_for(page, 1.5)  # at 20 ms a step, a retry loop would make dozens of handshakes here
    view = await client.view("story")
    after = await auth_closes(gateway)

    assert [(c["code"], c["reason"], c["willReconnect"]) for c in closes] == [
        (4001, "token_expired", True),
        (4001, "invalid_token", False),
    ]
    assert view["authErrors"] == [{"code": 4001, "reason": "token_expired"}]  # the hook: once
    assert len(view["attempts"]) == 2
    assert len(events_of(view, "close")) == 2
    assert {r: after[r] - before[r] for r in AUTH_REASONS} == {"token_expired": 1, "invalid_token": 1}


@TRANSPORTS
async def test_a_new_token_from_on_auth_error_gets_one_attempt_that_connects(
    transport: str,
    gateway: GatewayProcess,
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "generating", 30, "Writing chapter 1")
    before = await auth_closes(gateway)
    client = await ClientPage.on(page, gateway.http)
    await client.story(
        "story", story, token=tokens.garbage(), authRetryToken=tokens.valid(user), transport=transport
    )

    view = await client.seq("story", story, 1)
    after = await auth_closes(gateway)

    assert [(c["code"], c["reason"]) for c in events_of(view, "close")] == [(4001, "invalid_token")]
    assert len(view["attempts"]) == 2
    assert view["state"]["progress_percent"] == 30
    assert {r: after[r] - before[r] for r in AUTH_REASONS} == {"token_expired": 0, "invalid_token": 1}


@TRANSPORTS
async def test_token_renewed_in_band_keeps_the_socket_open_past_the_first_exp(
    transport: str,
    gateway: GatewayProcess,
    page: Page,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    exp = int(time.time() + 3 + timeout(1))  # 3 to 4 s ahead: renewed half-way, at about exp - 1.5 s
    before = await auth_closes(gateway)
    client = await ClientPage.on(page, gateway.http)
    renewal = [tokens.valid(user)]
    await client.story(
        "story", story, token=tokens.expiring_at(user, exp), renewTokens=renewal, transport=transport
    )
    await client.opened("story")

    renewed = await client.until("story", "r.events.some((e) => e.type === 'renewed')", 8, "a renewal")
    await quiet_for(page, exp + 1.5 - time.time())
    update = await publisher.publish(story, "synthesizing", 85, "Recording the narration")
    view = await client.seq("story", story, update.seq)
    after = await auth_closes(gateway)

    assert renewed["getTokenCalls"] == 1
    assert events_of(renewed, "renewed")[0]["at"] < exp
    assert events_of(view, "close") == []
    assert len(view["attempts"]) == (1 if transport == "websocket" else 2)  # SSE: a stream per token
    assert len(events_of(view, "open")) == 1
    assert set(view["kinds"]) == {transport}
    assert view["state"]["progress_percent"] == 85
    assert after == before
