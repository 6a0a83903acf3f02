"""A token's `exp` bounds the connection: Chromium sees 4001 `token_expired` at about `exp`,
unless the page renewed the token with `auth <JWT>` first."""

from __future__ import annotations

import time
import uuid

import pytest

from testkit.browser import BrowserSockets, ms
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.e2e.conftest import Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_expiry_closes_4001_unless_renewed(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    exp = int(time.time() + 3 + timeout(1))  # 3 to 4 s ahead (more on a slow machine)
    token = tokens.expiring_at(user, exp)
    url = f"{gateway.ws}/ws/stories/{story}/progress?token={token}"

    await sockets.open("expiring", url)
    await sockets.open("renewed", url)
    for name in ("expiring", "renewed"):
        await sockets.opened(name)
        await sockets.send(name, "ping")
        await sockets.text_count(name, "pong", 1)
    await sockets.send("renewed", f"auth {tokens.valid(user, ttl=600)}")
    state = await sockets.text_count("renewed", "auth ok", 1)
    assert state["close"] is None
    assert time.time() < exp - 0.2, "the renewal must happen well before exp for this test to mean anything"

    close = await sockets.closed("expiring", seconds=10)
    assert (close["code"], close["reason"], close["wasClean"]) == (4001, "token_expired", True)
    assert exp - 1 < close["at"] < exp + 3, f"closed at exp{close['at'] - exp:+.2f} s"

    # The renewed socket outlives the first exp (measured by the browser's clock) and still answers.
    await sockets.page.wait_for_function(f"() => Date.now() / 1000 > {exp + 1.5}", timeout=ms(10), polling=50)
    await sockets.send("renewed", "ping")
    state = await sockets.text_count("renewed", "pong", 2)
    assert state["close"] is None
    assert state["readyState"] == 1


@pytest.mark.parametrize(
    ("renewal", "reason"),
    [("another user's token", "invalid_token"), ("an expired token", "token_expired")],
)
async def test_a_bad_renewal_is_closed_4001(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    sockets: BrowserSockets,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    renewal: str,
    reason: str,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    token = tokens.valid(uuid.uuid4()) if renewal == "another user's token" else tokens.expired(user)
    await sockets.open("ws", f"{gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}")
    await sockets.opened("ws")
    await sockets.send("ws", f"auth {token}")
    close = await sockets.closed("ws")
    assert (close["code"], close["reason"], close["wasClean"]) == (4001, reason, True)
    assert "auth ok" not in (await sockets.view("ws"))["messages"]
