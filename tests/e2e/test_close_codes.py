"""Close codes as Chromium's `onclose` reports them: the handshake is accepted, then 4001 or 4003.

A close before the handshake would reach a browser only as 1006, so every case also checks that
`onopen` fired first and that the close was clean, with the contract's reason word.
"""

from __future__ import annotations

import time
import uuid

import pytest

from testkit.browser import BrowserSockets
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

STORY = "/ws/stories/{story}/progress"
DASHBOARD = "/ws/user/stories"


def token_for(kind: str, tokens: Tokens, user: uuid.UUID) -> str | None:
    now = int(time.time())
    match kind:
        case "missing":
            return None
        case "empty":
            return ""
        case "garbage":
            return tokens.garbage()
        case "expired":
            return tokens.expired(user)
        case "wrong_key":
            return tokens.wrong_key(user)
        case "alg_none":
            return tokens.alg_none(user)
        case "sub_not_uuid":
            return tokens.sign({"sub": "alice", "exp": now + 600})
        case "no_exp":
            return tokens.sign({"sub": str(user)})
        case "hs512_not_allowed":
            return tokens.sign({"sub": str(user), "exp": now + 600}, algorithm="HS512")
    raise AssertionError(kind)


def with_token(path: str, token: str | None) -> str:
    return path if token is None else f"{path}?token={token}"


async def close_seen(sockets: BrowserSockets, name: str, url: str) -> tuple[int, str, bool]:
    await sockets.open(name, url)
    await sockets.opened(name)
    close = await sockets.closed(name)
    state = await sockets.view(name)
    assert [m for m in state["messages"] if m.startswith("{")] == [], "no progress before a refusal"
    return close["code"], close["reason"], close["wasClean"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "invalid_token"),
        ("empty", "invalid_token"),
        ("garbage", "invalid_token"),
        ("expired", "token_expired"),
        ("wrong_key", "invalid_token"),
        ("alg_none", "invalid_token"),
        ("sub_not_uuid", "invalid_token"),
        ("no_exp", "invalid_token"),
        ("hs512_not_allowed", "invalid_token"),
    ],
)
@pytest.mark.parametrize("endpoint", ["story", "dashboard"])
async def test_bad_token_is_closed_4001(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    module_sockets: BrowserSockets,
    request: pytest.FixtureRequest,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    kind: str,
    reason: str,
    endpoint: str,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    path = STORY.format(story=story) if endpoint == "story" else DASHBOARD
    url = gateway.ws + with_token(path, token_for(kind, tokens, user))
    assert await close_seen(module_sockets, request.node.name, url) == (4001, reason, True)


@pytest.mark.parametrize("kind", ["another_users_story", "unknown_story", "not_a_uuid", "uuid_prefix"])
async def test_story_not_yours_is_closed_4003(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    module_sockets: BrowserSockets,
    request: pytest.FixtureRequest,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    kind: str,
) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    story = {
        "another_users_story": str(await new_story(database, other)),
        "unknown_story": str(uuid.uuid4()),
        "not_a_uuid": "not-a-story",
        "uuid_prefix": str(uuid.uuid4())[:8],
    }[kind]
    url = gateway.ws + STORY.format(story=story) + f"?token={tokens.valid(user)}"
    assert await close_seen(module_sockets, request.node.name, url) == (4003, "forbidden", True)


async def test_own_story_is_not_closed(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    """The control case of the refusals above: same page, same kind of URL, the owner's token."""
    user = uuid.uuid4()
    story = await new_story(database, user)
    await sockets.open("ws", gateway.ws + STORY.format(story=story) + f"?token={tokens.valid(user)}")
    await sockets.opened("ws")
    await sockets.send("ws", "ping")
    state = await sockets.text_count("ws", "pong", 1)
    assert state["close"] is None
