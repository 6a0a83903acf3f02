"""One cluster pubsub and the one task that owns it, so a subscription is known confirmed.

redis-py's `ssubscribe` returns before the node confirms, so a message published in between
could be missed; and 8.1 does not serialize a reader with (un)subscribes on the same socket. Here
only the owner task touches the pubsub: it sends the queued (un)subscribes between reads (those
that arrive together go out together), resolves a waiter per channel on its `ssubscribe` reply,
and puts messages in `inbox`. Its first error goes there too, and fails every waiter. A channel
the node drops by itself (its slot moved) counts as an error: the feed must subscribe anew.

Bound: `inbox` holds at most `inbox` (10,000) messages; when it is full the owner task stops
reading, as the standalone feed does, and the node's output buffer limit ends a reader that
never catches up (an error: the feed subscribes anew and the hub resyncs). The channel sets and
waiters hold what the feed subscribes, so the topics the hub watches.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import RedisClusterException, RedisError

from domain.aio.futures import retrieve

# What a broker failure looks like here: RedisClusterException for an uncovered slot, RuntimeError
# for a per-node pubsub whose connection is gone.
BROKER_ERRORS = (RedisError, RedisClusterException, OSError, RuntimeError)
INBOX = 10_000
Inbox = asyncio.Queue[tuple[str, bytes] | BaseException]


class ShardedSubscription:
    """Build it inside the running loop (it starts its task); always `close()` it."""

    def __init__(self, pubsub: ClusterPubSub, poll: float, inbox: int = INBOX) -> None:
        self._pubsub = pubsub
        self._poll = poll
        self._wanted: set[str] = set()
        self._confirmed: set[str] = set()  # wanted, and confirmed by the node
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._requests: list[tuple[bool, list[str]]] = []  # (subscribe?, channels), in order
        self._wake = asyncio.Event()
        self.inbox: Inbox = asyncio.Queue(inbox)
        self._owner = asyncio.create_task(self._run())

    async def subscribe(self, channels: list[str]) -> None:
        """Return once every channel is confirmed by its node (the caller bounds the wait)."""
        if self._owner.done():
            raise ConnectionError("this subscription has failed: the feed must subscribe again")
        self._wanted.update(channels)
        new = [c for c in channels if c not in self._confirmed]
        if not new:
            return
        loop = asyncio.get_running_loop()
        futures = [self._waiters.setdefault(c, loop.create_future()) for c in new]
        self._request(True, new)
        try:
            await asyncio.gather(*futures)
        finally:
            for waiter in futures:
                settle(waiter)
            for channel in new:
                if (held := self._waiters.get(channel)) is not None and held.done():
                    del self._waiters[channel]

    def unsubscribe(self, channels: list[str]) -> None:
        """Queued, not awaited: nothing depends on the node's reply."""
        self._wanted.difference_update(channels)
        self._confirmed.difference_update(channels)
        self._request(False, channels)

    async def close(self) -> None:
        self._owner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._owner
        self._fail(ConnectionError("the subscription is closed"))
        with contextlib.suppress(*BROKER_ERRORS):
            await self._pubsub.aclose()

    def _request(self, subscribe: bool, channels: list[str]) -> None:
        self._requests.append((subscribe, channels))
        self._wake.set()

    async def _run(self) -> None:
        try:
            while True:
                while self._requests:
                    subscribe, channels = self._requests.pop(0)
                    send = self._pubsub.ssubscribe if subscribe else self._pubsub.sunsubscribe
                    await send(*channels)
                if not self._pubsub.node_pubsub_mapping:
                    self._wake.clear()  # nothing subscribed: a read would return at once
                    await self._wake.wait()
                    continue
                message = await self._pubsub.get_sharded_message(timeout=self._poll)
                if message is not None:
                    await self._handle(message)
        except BROKER_ERRORS as exc:
            self._fail(exc)
            await self.inbox.put(exc)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"].decode(errors="replace")
        if kind == "smessage":
            await self.inbox.put((channel, message["data"]))
        elif kind == "ssubscribe":
            if channel in self._wanted:
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
    else:
        retrieve(future)
