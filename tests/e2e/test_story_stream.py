"""The story endpoint in Chromium: the original validation gate (accept, progress JSON, ping/pong) and more.

On connect the stored snapshot comes first, live updates follow with their `seq`, `status` answers
with the current state, and the token may travel as the `bearer` subprotocol instead of the URL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import pytest

from testkit.browser import BrowserSockets, progress_of
from testkit.postgres import Database
from testkit.processes import ROOT, GatewayProcess
from testkit.waiting import timeout
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")


def fields(message: dict[str, Any]) -> tuple[Any, ...]:
    return (
        message["story_id"],
        message["status"],
        message["progress_percent"],
        message["current_step"],
        message.get("seq"),
    )


async def test_snapshot_first_then_live_update_ping_and_status(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "analyzing", 10, "Reading the code")

    await sockets.open("story", f"{gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}")
    await sockets.opened("story")
    first = progress_of(await sockets.message_count("story", 1))[0]
    assert fields(first) == (str(story), "analyzing", 10, "Reading the code", 1)
    assert first["updated_at"]

    await sockets.send("story", "ping")
    await sockets.text_count("story", "pong", 1)

    await publisher.publish(story, "generating", 40, "Writing chapter 2")
    seen = await sockets.progress_where("story", "p.seq === 2")
    assert [fields(p) for p in seen] == [
        (str(story), "analyzing", 10, "Reading the code", 1),
        (str(story), "generating", 40, "Writing chapter 2", 2),
    ]

    await sockets.send("story", "status")
    state = await sockets.until("story", "s.messages.filter((m) => m[0] === '{').length >= 3", 5, "status")
    assert fields(progress_of(state["messages"])[-1]) == (
        str(story),
        "generating",
        40,
        "Writing chapter 2",
        2,
    )
    assert state["close"] is None
    assert state["readyState"] == 1


async def test_update_from_the_publish_command_reaches_the_browser(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    sockets: BrowserSockets,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    redis_url: str,
    e2e_prefix: str,
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await sockets.open("story", f"{gateway.ws}/ws/stories/{story}/progress?token={tokens.valid(user)}")
    await sockets.opened("story")
    await sockets.send("story", "ping")
    await sockets.text_count("story", "pong", 1)  # the session is subscribed once it answers

    command = [sys.executable, "-m", "entrypoints", "publish", str(story), "synthesizing", "70", "Mixing"]
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": e2e_prefix}
    worker = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout(20))
    assert worker.returncode == 0, err.decode()

    seen = await sockets.progress_where("story", "p.status === 'synthesizing'")
    assert [fields(p) for p in seen] == [(str(story), "synthesizing", 70, "Mixing", 1)]
    assert str(story) in out.decode()


async def test_token_as_bearer_subprotocol(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "generating", 55, "Writing chapter 3")

    await sockets.open("sub", f"{gateway.ws}/ws/stories/{story}/progress", ["bearer", tokens.valid(user)])
    state = await sockets.opened("sub")
    assert state["protocol"] == "bearer"
    first = progress_of(await sockets.message_count("sub", 1))[0]
    assert fields(first) == (str(story), "generating", 55, "Writing chapter 3", 1)
    await sockets.send("sub", "ping")
    state = await sockets.text_count("sub", "pong", 1)
    assert state["close"] is None


async def test_bad_token_as_bearer_subprotocol_is_closed_4001(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database
) -> None:
    user = uuid.uuid4()
    story = await new_story(database, user)
    await sockets.open("sub", f"{gateway.ws}/ws/stories/{story}/progress", ["bearer", tokens.wrong_key(user)])
    state = await sockets.opened("sub")
    assert state["protocol"] == "bearer"
    close = await sockets.closed("sub")
    assert (close["code"], close["reason"], close["wasClean"]) == (4001, "invalid_token", True)
