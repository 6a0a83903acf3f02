"""The asyncio block's heartbeat: a task that refreshes the story's liveness key while the block is
open. One task, one refresh at a time: the first at once, the next `interval` seconds after the
previous one ended, so two refreshes never overlap. It stops with the block (a refresh under way
may end first, within a bound, else it is cancelled); an error is logged (once per outage) and
never reaches the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from uuid import UUID

from codestory_progress_worker.aio.backends import AsyncHeartbeats
from codestory_progress_worker.liveness import Outage, ttl_ms

_STOP_GRACE_SECONDS = 1.0  # how long a block's end waits for a refresh under way


class AsyncHeartbeat:
    """Refreshes `story_id`'s liveness key every `interval` seconds on `backend`; calls
    `on_cancel` when a refresh finds the cancel key."""

    def __init__(
        self, backend: AsyncHeartbeats, story_id: UUID, interval: float, on_cancel: Callable[[], None]
    ) -> None:
        self._backend = backend
        self._story_id = story_id
        self._interval = interval
        self._ttl_ms = ttl_ms(interval)
        self._on_cancel = on_cancel
        self._outage = Outage(story_id)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.refreshes = 0  # refreshes that succeeded (tests and logs read it)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"heartbeat-{self._story_id}")

    async def stop(self) -> None:
        """No refresh starts after this; a refresh under way gets a second to end, then is cancelled."""
        self._stopping.set()
        task = self._task
        if task is None or task.done():
            return
        _, pending = await asyncio.wait({task}, timeout=_STOP_GRACE_SECONDS)
        if pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def _refresh(self) -> None:
        try:
            cancelled = await self._backend.heartbeat(self._story_id, self._ttl_ms)
        except Exception as error:  # noqa: BLE001 (a heartbeat never kills the worker: logged once per outage)
            self._outage.failed(error)
            return
        self.refreshes += 1
        self._outage.succeeded()
        if cancelled:
            self._on_cancel()
