"""One HTTP request's ASGI side played by a test: the app's `receive` gets the (empty) body, then
waits until the client `leave`s; what the app `send`s is recorded and parsed as a stream."""

from __future__ import annotations

import asyncio
from typing import Any

from testkit.sse import Event, parse_block


class AsgiExchange:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._body_given = False
        self._left = asyncio.Event()
        self._changed = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if not self._body_given:
            self._body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self._changed.set()

    def leave(self) -> None:
        self._left.set()

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if starts else None

    @property
    def headers(self) -> dict[str, str]:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return {name.decode(): value.decode() for name, value in starts[0]["headers"]} if starts else {}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    @property
    def complete(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.sent)

    def events(self) -> list[Event]:
        """Every complete event block of the body so far (the `retry:` hint included)."""
        blocks = self.body.decode().split("\n\n")[:-1]
        return [parse_block(block) for block in blocks]

    def progress(self) -> list[Event]:
        return [e for e in self.events() if e.event == "progress"]

    async def wait_for(self, predicate: Any, seconds: float) -> None:
        """Until `predicate(self)` holds."""
        async with asyncio.timeout(seconds):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
