"""Two tabs of the same user, each with the browser client (`/client.js`), stay consistent."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser

from testkit.client_page import ClientPage, events_of
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

STEPS = [("analyzing", 10), ("generating", 30), ("generating", 55), ("synthesizing", 80), ("complete", 100)]


async def test_two_tabs_of_one_user_end_with_the_same_states(
    browser: Browser, gateway: GatewayProcess, tokens: Tokens, database: Database, publisher: Publisher
) -> None:
    user = uuid.uuid4()
    stories = [await new_story(database, user) for _ in range(2)]
    await publisher.publish(stories[0], "analyzing", 5, "Cloning the repository")
    context = await browser.new_context()  # one browser profile, two tabs
    try:
        tabs = [await ClientPage.on(await context.new_page(), gateway.http) for _ in range(2)]
        for tab in tabs:
            await tab.dashboard("dash", token=tokens.valid(user))
            await tab.story("story", stories[0], token=tokens.valid(user))
            await tab.seq("dash", stories[0], 1)

        last = {}
        for status, percent in STEPS:  # back to back: each tab may merge percent-only updates
            for story in stories:
                last[story] = await publisher.publish(story, status, percent, f"{status} {percent}")
        views = []
        for tab in tabs:
            for story in stories:
                await tab.seq("dash", story, last[story].seq)
            await tab.seq("story", stories[0], last[stories[0]].seq)
            views.append((await tab.view("dash"), await tab.view("story")))
    finally:
        await context.close()

    (dash_a, story_a), (dash_b, story_b) = views
    assert dash_a["states"] == dash_b["states"]
    assert set(dash_a["states"]) == {str(s) for s in stories}
    assert story_a["state"] == story_b["state"] == dash_a["states"][str(stories[0])]
    for story in stories:
        held = dash_a["states"][str(story)]
        assert (held["status"], held["progress_percent"], held["seq"]) == ("complete", 100, last[story].seq)
    for dash in (dash_a, dash_b):
        for story in stories:
            updates = [u for u in events_of(dash, "update") if u["story_id"] == str(story)]
            seqs = [u["seq"] for u in updates]
            assert seqs == sorted(set(seqs)), seqs  # never older, never twice
            statuses = list(dict.fromkeys(u["status"] for u in updates))
            assert statuses == ["analyzing", "generating", "synthesizing", "complete"]  # none skipped
