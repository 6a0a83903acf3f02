"""No token ever reaches the gateway's log, although uvicorn logs every WebSocket URL with its query.

Runs after every other e2e test (see `LAST_TESTS` in conftest), so the shared gateway's log holds
every connection of the session: accepted, refused, expired, renewed.
"""

from __future__ import annotations

import uuid

import pytest

from testkit.browser import BrowserSockets
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_no_token_in_gateway_log(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    earlier = len(tokens.used)  # the fixture's record is shared with other tests of this process
    cases = {
        "valid": tokens.valid(user),
        "expired": tokens.expired(user),
        "garbage": tokens.garbage(),
        "wrong_key": tokens.wrong_key(user),
    }
    for name, token in cases.items():
        await sockets.open(name, f"{gateway.ws}/ws/stories/{story}/progress?token={token}")
        await sockets.open(f"{name}-dash", f"{gateway.ws}/ws/user/stories?token={token}")
    await sockets.opened("valid")
    await sockets.send("valid", f"auth {tokens.valid(user)}")
    await sockets.text_count("valid", "auth ok", 1)
    for name in cases:
        if name != "valid":
            assert (await sockets.closed(name))["code"] == 4001
            assert (await sockets.closed(f"{name}-dash"))["code"] == 4001
    await sockets.send("valid", "ping")
    await sockets.text_count("valid", "pong", 1)  # the log lines of the refusals are written by now

    log = gateway.log()
    assert f"/ws/stories/{story}/progress?token=[redacted]" in log, "uvicorn logs WebSocket URLs, redacted"
    assert len(tokens.used) - earlier >= 5  # the four cases and the renewal
    leaked = [t for t in tokens.used if t in log]
    assert leaked == [], f"{len(leaked)} tokens in {gateway.log_path}"
    signatures = [t.rsplit(".", 1)[-1] for t in tokens.used if t.count(".") == 2]
    leaked_signatures = [s for s in signatures if len(s) >= 16 and s in log]
    assert leaked_signatures == [], f"token signatures in {gateway.log_path}"
