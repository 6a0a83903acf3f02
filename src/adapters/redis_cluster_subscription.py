"""One cluster pubsub and the task that reads it, so a subscription is known confirmed.

redis-py's `ssubscribe` returns before the node confirms, and a message published in between is
lost; here every (un)subscribe and every read holds one lock (8.1 does not serialize them), the
reader resolves a waiter per channel on its `ssubscribe` reply, and `subscribe` returns only then.
Messages go to `inbox`; the first error goes there too, and fails every waiter. A channel the
node drops by itself (its slot moved) counts as an error: the feed must subscribe anew.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import RedisClusterException, RedisError

# What a broker failure looks like here: RedisClusterException for an uncovered slot, RuntimeError
# for a per-node pubsub whose connection is gone.
BROKER_ERRORS = (RedisError, RedisClusterException, OSError, RuntimeError)
Inbox = asyncio.Queue[tuple[str, bytes] | BaseException]


class ShardedSubscription:
    """Build it inside the running loop (it starts its reader); always `close()` it."""

    def __init__(self, pubsub: ClusterPubSub, poll: float) -> None:
        self._pubsub = pubsub
        self._poll = poll
        self._lock = asyncio.Lock()
        self._confirmed: set[str] = set()
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._wake = asyncio.Event()
        self.inbox: Inbox = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, channels: list[str]) -> None:
        """Return once every channel is confirmed by its node (the caller bounds the wait)."""
        if self._reader.done():
            raise ConnectionError("this subscription has failed: the feed must subscribe again")
        loop = asyncio.get_running_loop()
        new = [c for c in channels if c not in self._confirmed]
        if not new:
            return
        futures = [self._waiters.setdefault(c, loop.create_future()) for c in new]
        try:
            async with self._lock:
                await self._pubsub.ssubscribe(*new)
            self._wake.set()
            await asyncio.gather(*futures)
        finally:
            for waiter in futures:
                settle(waiter)
            for channel in new:
                if (held := self._waiters.get(channel)) is not None and held.done():
                    del self._waiters[channel]

    async def unsubscribe(self, channels: list[str]) -> None:
        self._confirmed.difference_update(channels)
        async with self._lock:
            await self._pubsub.sunsubscribe(*channels)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._fail(ConnectionError("the subscription is closed"))
        with contextlib.suppress(*BROKER_ERRORS):
            await self._pubsub.aclose()

    async def _read(self) -> None:
        try:
            while True:
                if not self._pubsub.node_pubsub_mapping:
                    self._wake.clear()
                    await self._wake.wait()  # nothing subscribed: a read would return at once
                async with self._lock:
                    message = await self._pubsub.get_sharded_message(timeout=self._poll)
                if message is not None:
                    self._handle(message)
        except BROKER_ERRORS as exc:
            self.inbox.put_nowait(exc)
            self._fail(exc)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"].decode(errors="replace")
        if kind == "smessage":
            self.inbox.put_nowait((channel, message["data"]))
        elif kind == "ssubscribe":
            self._confirmed.add(channel)
            if (future := self._waiters.get(channel)) is not None and not future.done():
                future.set_result(None)
        elif kind == "sunsubscribe" and channel in self._confirmed:
            # Not ours (`unsubscribe` forgets the channel first): the node dropped it, as Redis does
            # when the slot moves away. Only a new subscription on the current owner hears it again.
            raise ConnectionError(f"the node dropped the subscription to {channel}")

    def _fail(self, exc: BaseException) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(exc)
        self._waiters.clear()


def settle(future: asyncio.Future[None]) -> None:
    """Cancel a waiter no one awaits any more, or mark its failure seen (else asyncio logs it)."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()
