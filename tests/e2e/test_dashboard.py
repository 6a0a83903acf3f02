"""The dashboard (`/ws/user/stories`) in Chromium: every story of the user, and only those.

A story that the main backend inserts into `stories` after the dashboard connected still reaches
it; another user's story, published first, never does.
"""

from __future__ import annotations

import uuid

import pytest

from testkit.browser import BrowserSockets, progress_of
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def connected_dashboard(sockets: BrowserSockets, name: str, url: str) -> None:
    await sockets.open(name, url)
    await sockets.opened(name)
    await sockets.send(name, "ping")
    await sockets.text_count(name, "pong", 1)  # answered by the session, so it is registered


async def test_new_story_reaches_its_owner_and_no_one_else(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    old_story = await new_story(database, mine)
    await publisher.publish(old_story, "complete", 100, "Your story is ready")

    await connected_dashboard(sockets, "mine", f"{gateway.ws}/ws/user/stories?token={tokens.valid(mine)}")
    await connected_dashboard(sockets, "theirs", f"{gateway.ws}/ws/user/stories?token={tokens.valid(theirs)}")
    snapshot = progress_of((await sockets.view("mine"))["messages"])
    assert [(p["story_id"], p["status"]) for p in snapshot] == [(str(old_story), "complete")]

    new_mine = await new_story(database, mine)  # inserted after both dashboards connected
    new_theirs = await new_story(database, theirs)
    await publisher.publish(new_theirs, "analyzing", 5, "Cloning the repository")
    await sockets.progress_where("theirs", f"p.story_id === '{new_theirs}'")
    await publisher.publish(new_mine, "analyzing", 15, "Reading the code")
    await publisher.publish(new_mine, "generating", 35, "Writing chapter 1")

    seen = await sockets.progress_where("mine", f"p.story_id === '{new_mine}' && p.seq === 2")
    assert {p["story_id"] for p in seen} == {str(old_story), str(new_mine)}
    assert [
        (p["status"], p["progress_percent"], p["seq"]) for p in seen if p["story_id"] == str(new_mine)
    ] == [
        ("analyzing", 15, 1),
        ("generating", 35, 2),
    ]
    theirs_seen = progress_of((await sockets.view("theirs"))["messages"])
    assert {p["story_id"] for p in theirs_seen} == {str(new_theirs)}


async def test_status_resends_the_state_of_each_story(
    sockets: BrowserSockets, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    first, second = await new_story(database, user), await new_story(database, user)
    await publisher.publish(first, "generating", 45, "Writing chapter 2")
    await publisher.publish(second, "failed", 70, "The narrator lost their voice")

    await connected_dashboard(sockets, "dash", f"{gateway.ws}/ws/user/stories?token={tokens.valid(user)}")
    await sockets.send("dash", "status")
    state = await sockets.until("dash", "s.messages.filter((m) => m[0] === '{').length >= 4", 5, "status")
    seen = progress_of(state["messages"])
    expected = {(str(first), "generating", 45), (str(second), "failed", 70)}
    assert {(p["story_id"], p["status"], p["progress_percent"]) for p in seen[:2]} == expected
    assert {(p["story_id"], p["status"], p["progress_percent"]) for p in seen[2:]} == expected
