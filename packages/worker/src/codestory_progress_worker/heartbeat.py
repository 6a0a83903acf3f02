"""The sync block's heartbeat: a daemon thread that refreshes the story's liveness key while the
block is open. One thread, one refresh at a time: the first at once, the next `interval` seconds
after the previous one ended, so two refreshes never overlap. It stops, and is joined, with the
block; an error is logged (once per outage) and never reaches the worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from uuid import UUID

from codestory_progress_worker.backends import Heartbeats
from codestory_progress_worker.liveness import Outage, ttl_ms

logger = logging.getLogger("codestory_progress_worker.heartbeat")


class Heartbeat:
    """Refreshes `story_id`'s liveness key every `interval` seconds on `backend`; calls
    `on_cancel` (from its thread) when a refresh finds the cancel key."""

    def __init__(
        self, backend: Heartbeats, story_id: UUID, interval: float, on_cancel: Callable[[], None]
    ) -> None:
        self._backend = backend
        self._story_id = story_id
        self._interval = interval
        self._ttl_ms = ttl_ms(interval)
        self._on_cancel = on_cancel
        self._outage = Outage(story_id)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{story_id}", daemon=True)
        self.refreshes = 0  # refreshes that succeeded (tests and logs read it)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """No refresh starts after this; waits up to `timeout` (default: one interval plus the
        client's 5 s socket timeout) for a refresh under way to end."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._interval + 5.0 if timeout is None else timeout)
            if self._thread.is_alive():
                logger.warning(
                    "story %s: a heartbeat refresh is still under way; left to end", self._story_id
                )

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._refresh()
            if self._stopping.wait(self._interval):
                return

    def _refresh(self) -> None:
        try:
            cancelled = self._backend.heartbeat(self._story_id, self._ttl_ms)
        except Exception as error:  # noqa: BLE001 (a heartbeat never kills the worker: logged once per outage)
            self._outage.failed(error)
            return
        self.refreshes += 1
        self._outage.succeeded()
        if cancelled:
            self._on_cancel()
