"""docs/publishing.md's two SDK examples, run as they stand: the sync one in a thread, the asyncio one
on the loop, against real Redis and a real `serve`; a client of the story receives every update
the example publishes, in order, with its seq."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

from testkit.clients import ProgressClient
from testkit.processes import ROOT
from tests.integration.conftest import NewStory, StartGateway

PUBLISHING_DOC = ROOT / "docs" / "publishing.md"
UPDATE_CALL = re.compile(r'update\("(\w+)", (\d+), "([^"]*)"\)')


def examples() -> dict[str, str]:
    """The doc's Python blocks that define a worker's `generate_story`, by API."""
    blocks = re.findall(r"```python\n(.*?)```", PUBLISHING_DOC.read_text(), re.DOTALL)
    workers = [str(block) for block in blocks if "def generate_story(" in block]
    found = {"asyncio" if "async def generate_story(" in block else "sync": block for block in workers}
    assert len(workers) == len(found) == 2, f"expected one sync and one asyncio example, found {len(workers)}"
    return found


def run_example(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "worker"}
    exec(compile(code, str(PUBLISHING_DOC), "exec"), namespace)  # noqa: S102 (the doc's own example)
    return namespace


def test_each_example_publishes_a_whole_walk() -> None:
    for code in examples().values():
        assert [call[0] for call in UPDATE_CALL.findall(code)][-1] == "complete"


@pytest.mark.parametrize("api", ["sync", "asyncio"])
async def test_the_documented_example_reaches_a_client(  # noqa: PLR0913, PLR0917 (the fixtures the test uses)
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    api: str,
) -> None:
    code = examples()[api]
    expected = [(status, int(percent), step) for status, percent, step in UPDATE_CALL.findall(code)]
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    gateway = start_gateway()
    story = await new_story()
    worker = run_example(code)
    generate: Callable[[str, str], Any] = worker["generate_story"]

    async with connect(gateway.ws + story.path()) as connection:
        client = ProgressClient(connection)
        await connection.send("ping")
        assert await connection.recv() == "pong"  # subscribed
        if api == "sync":
            await asyncio.to_thread(generate, str(story.id), str(story.user))
            worker["reporter"].close()
        else:
            await generate(str(story.id), str(story.user))
            await worker["reporter"].aclose()
        await client.read_until(lambda m: m["status"] == "complete")

    got = [(m["status"], m["progress_percent"], m["current_step"]) for m in client.received]
    assert got == expected
    assert client.seqs() == list(range(1, len(expected) + 1))
