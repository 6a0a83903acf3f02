"""`LOG_FORMAT=json` on the real `serve`: one JSON object a line, each line about a connection tied to
it (id, endpoint, user once known), a close line with code and reason, and never a token."""

from __future__ import annotations

import json
import re
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from testkit.clients import close_code
from testkit.waiting import wait_for_condition
from tests.integration.conftest import NewStory, StartGateway


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


async def test_json_lines_tie_each_connection_to_its_id_user_and_close_code(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    story, other = await new_story(), await new_story()

    async with connect(f"{gateway.ws}/ws/stories/{story.id}/progress?token=not-a-jwt") as refused:
        assert await close_code(refused) == 4001
    async with connect(f"{gateway.ws}/ws/stories/{other.id}/progress?token={story.token}") as foreign:
        assert await close_code(foreign) == 4003
    bearer = [Subprotocol("bearer"), Subprotocol(story.token)]
    async with connect(f"{gateway.ws}/ws/user/stories", subprotocols=bearer) as served:
        await served.send("ping")
        assert await served.recv() == "pong"
        await served.close(code=1000)

    async def three_closes() -> bool:
        return gateway.log().count('"message": "connection closed"') >= 3

    await wait_for_condition(three_closes, 5, "three connection-closed lines")
    assert gateway.stop() == 0
    text = gateway.log()
    entries = json_lines(text)

    assert story.token not in text
    assert "not-a-jwt" not in text
    closes = [e for e in entries if e["message"] == "connection closed"]
    assert [(e["endpoint"], e["close_code"], e["close_reason"]) for e in closes] == [
        ("story", 4001, "invalid_token"),
        ("story", 4003, "forbidden"),
        ("dashboard", 1000, "client_closed"),
    ]
    assert all(re.fullmatch(r"[0-9a-f]{8}", e["conn_id"]) for e in closes)
    assert len({e["conn_id"] for e in closes}) == 3
    assert "user_id" not in closes[0]  # refused before the token gave a user
    assert closes[1]["user_id"] == closes[2]["user_id"] == str(story.user)
    denied = [e for e in entries if "connection denied" in e["message"]]
    assert [e["conn_id"] for e in denied] == [closes[0]["conn_id"], closes[1]["conn_id"]]
    accepted = [e for e in entries if e["message"].endswith("[accepted]")]  # uvicorn's own lines
    assert [(e["conn_id"], e["endpoint"]) for e in accepted] == [
        (e["conn_id"], e["endpoint"]) for e in closes
    ]
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
