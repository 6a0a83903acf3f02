"""What the stalled and cancel tests share, in either Redis mode: a POST, the flag's messages, the
cancel key's record."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from testkit.clients import ProgressClient
from testkit.waiting import timeout

STALLED_AFTER = "1"  # checked every 0.25 s


async def post(url: str, token: str | None = None) -> tuple[int, str, str]:
    """POST `url` with no body; the status, the body and its content type."""

    def send() -> tuple[int, str, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(url, method="POST", headers=headers)  # noqa: S310 (test URL)
        try:
            with urllib.request.urlopen(request, timeout=timeout(5)) as response:  # noqa: S310
                return int(response.status), response.read().decode(), response.headers["content-type"]
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode(), error.headers.get("content-type", "")

    return await asyncio.to_thread(send)


async def next_text(client: ProgressClient, prefix: str) -> str:
    """The next control text that starts with `prefix` (progress messages are kept as received)."""
    async with asyncio.timeout(timeout(5)):
        while True:
            text = await client.connection.recv()
            assert isinstance(text, str)
            if text.startswith("{"):
                client.received.append(json.loads(text))
            elif text.startswith(prefix):
                return text


def flagged(seq: int, stalled: bool) -> Any:
    return lambda m: m.get("seq") == seq and bool(m.get("stalled", False)) is stalled


def check_record(raw: bytes | None, user: uuid.UUID) -> None:
    assert raw is not None, "no cancel key"
    record = json.loads(raw)
    assert record["user_id"] == str(user)
    assert record["requested_at"].endswith("+00:00")
