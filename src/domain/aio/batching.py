"""Reads of many keys under a connect storm: one round trip for many connects, not one each.

Keys asked for while a batch read is in flight, or within the same loop turn, join the next
batch: a key is read once for all who want it, different keys together (`MGET`, `= ANY($1)`).
A read is never shared with a caller that asked after it was sent: a connect that subscribed
must read after it subscribed, or an update published in between could be missed. One fetch is
in flight at a time, so answers come back in the order they were asked.

Bound: at most `max_waiting` keys (default 100,000) wait for the next fetch; a read that would
take it past that raises `overloaded()` at once, as a fetch failure would (1013 for a connect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from domain.aio.futures import retrieve

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        overloaded: Callable[[], Exception],
        max_waiting: int = 100_000,
    ) -> None:
        self._fetch = fetch
        self._overloaded = overloaded
        self._max_waiting = max_waiting
        self._wanted: dict[K, None] = {}
        self._next: asyncio.Future[dict[K, V]] | None = None
        self._reading = False

    @property
    def waiting(self) -> int:
        """Keys waiting for the next fetch."""
        return len(self._wanted)

    async def read(self, keys: Sequence[K]) -> dict[K, V]:
        """The values found for `keys` (missing keys have none); the fetch's failure is raised."""
        if not keys:
            return {}
        if len(self._wanted) + len(keys) > self._max_waiting and not self._wanted.keys() >= set(keys):
            raise self._overloaded()
        self._wanted.update(dict.fromkeys(keys))
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(retrieve)
            if not self._reading:
                asyncio.get_running_loop().call_soon(self._flush)
        return await asyncio.shield(self._next)

    def _flush(self) -> None:
        batch, future = list(self._wanted), self._next
        self._wanted, self._next = {}, None
        if future is not None:
            self._reading = True
            task = asyncio.ensure_future(self._read(batch, future))
            task.add_done_callback(self._read_done)

    async def _read(self, batch: list[K], future: asyncio.Future[dict[K, V]]) -> None:
        try:
            found = await self._fetch(batch)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 (handed to every reader of the batch, raised there)
            future.set_exception(exc)
        else:
            future.set_result(found)

    def _read_done(self, task: asyncio.Future[None]) -> None:
        self._reading = False
        if self._next is not None:
            self._flush()
