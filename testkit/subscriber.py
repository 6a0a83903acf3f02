"""A plain Redis subscriber for the tests: what a channel carried, read in order, confirmed before use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from testkit.waiting import timeout


class Subscriber:
    def __init__(self, pubsub: Any, kind: str) -> None:
        self._pubsub = pubsub
        self._kind = kind  # "message", or "smessage" on a sharded channel

    async def next(self, seconds: float = 5) -> bytes:
        """The next message's data; fails the test after `seconds` (scaled) without one."""
        async with asyncio.timeout(timeout(seconds)):
            while True:
                message = await self._pubsub.get_message(timeout=timeout(seconds))
                if message is not None and message["type"] == self._kind:
                    return bytes(message["data"])


@contextlib.asynccontextmanager
async def subscribed(client: Redis, channel: str, *, sharded: bool = False) -> AsyncIterator[Subscriber]:
    """Subscribe (SSUBSCRIBE with `sharded`, on the node that serves the channel's slot) and return
    once Redis confirmed it: from then on nothing published on `channel` is missed."""
    pubsub = client.pubsub()
    try:
        await (pubsub.ssubscribe(channel) if sharded else pubsub.subscribe(channel))
        async with asyncio.timeout(timeout(5)):
            confirmation = "ssubscribe" if sharded else "subscribe"
            while (reply := await pubsub.get_message(timeout=timeout(5))) is None or reply[
                "type"
            ] != confirmation:
                pass
        yield Subscriber(pubsub, "smessage" if sharded else "message")
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
