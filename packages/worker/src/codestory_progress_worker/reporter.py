"""The sync API: a reporter, and a story held for the length of a `with` block.

```python
reporter = ProgressReporter.from_url(redis_url)
with reporter.story(story_id, owner=user_id) as story:
    story.update("analyzing", 5, "Cloning the repository")
```

`codestory_progress_worker.aio` has the same names for asyncio (`async with`, `await`).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from uuid import UUID

from codestory_progress_worker.backends import Backend, Heartbeats, backend_from_url
from codestory_progress_worker.blocks import Due, StoryBlock
from codestory_progress_worker.heartbeat import Heartbeat
from codestory_progress_worker.liveness import DEFAULT_HEARTBEAT_SECONDS, heartbeat_interval
from codestory_progress_worker.updates import DEFAULT_TTL_SECONDS, Update, story_and_owner


class ProgressReporter:
    """A worker's entry point. `story()` opens a block that holds a story; `publish()` sends one
    update on a story's behalf (a command, or a backend ending a dead worker's story);
    `revoke()` tells the gateways that a story's owner changed. Thread-safe as redis-py is.

    `heartbeat_seconds`: while a block is open, its story's liveness key is refreshed this often
    (TTL three times that) from a daemon thread; 0 or None turns heartbeats off."""

    def __init__(
        self, backend: Backend, *, heartbeat_seconds: float | None = DEFAULT_HEARTBEAT_SECONDS
    ) -> None:
        self.backend = backend
        self.heartbeat_seconds = heartbeat_interval(heartbeat_seconds)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        cluster: bool = False,
        heartbeat_seconds: float | None = DEFAULT_HEARTBEAT_SECONDS,
        **redis_options: Any,
    ) -> ProgressReporter:
        """`prefix` and `ttl_seconds` must match the gateway's `REDIS_KEY_PREFIX` and
        `SNAPSHOT_TTL_SECONDS`; `cluster=True` for `REDIS_MODE=cluster`. Other keywords go to
        redis-py's `from_url`."""
        interval = heartbeat_interval(heartbeat_seconds)  # checked before any client is built
        backend = backend_from_url(
            url, prefix=prefix, ttl_seconds=ttl_seconds, cluster=cluster, **redis_options
        )
        return cls(backend, heartbeat_seconds=interval)

    def story(self, story_id: UUID | str, *, owner: UUID | str | None = None) -> StoryProgress:
        """The owner is required in cluster mode; elsewhere the gateway looks it up."""
        story, user = story_and_owner(story_id, owner, requires_owner=self.backend.requires_owner)
        return StoryProgress(self.backend, story, user, heartbeat_seconds=self.heartbeat_seconds)

    def publish(
        self, story_id: UUID | str, status: str, percent: int, step: str, *, owner: UUID | str | None = None
    ) -> Update:
        """One update, outside any block: nothing is published if it raises."""
        return self.story(story_id, owner=owner).update(status, percent, step)

    def revoke(self, story_id: UUID | str) -> int:
        """Every gateway re-checks the story's owner at once (moved or deleted); returns how many
        gateway connections heard it."""
        story, _ = story_and_owner(story_id, None, requires_owner=False)
        return self.backend.revoke(story)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StoryProgress(StoryBlock):
    """A story held by a worker for the length of a `with` block, its liveness key kept fresh by a
    heartbeat thread meanwhile. An `Exception` that escapes the block publishes `failed` (at the
    last percent, the step naming only the error's type), then propagates; a story already
    `complete` or `failed` is left as it is. A cancel (seen by a publish or a heartbeat) makes the
    next `update()` raise `StoryCancelled`, which the block turns into `failed` with the step
    `Cancelled by the user` and does not re-raise."""

    def __init__(
        self, backend: Backend, story_id: UUID, owner: UUID | None, *, heartbeat_seconds: float | None = None
    ) -> None:
        super().__init__(story_id, owner)
        self._backend = backend
        self._interval = heartbeat_seconds
        self.heartbeat: Heartbeat | None = None  # while the block is open, if heartbeats are on

    def update(self, status: str, percent: int, step: str) -> Update:
        """Publish one update; `ValueError` for a bad value, and then nothing reaches Redis;
        `StoryCancelled` once a cancel was seen."""
        return self._send(self.checked(status, percent, step))

    def _send(self, update: Update) -> Update:
        return self.published(update, self._backend.publish(self.story_id, self.owner, update.body()))

    def __enter__(self) -> StoryProgress:
        if self._interval is not None and isinstance(self._backend, Heartbeats):
            self.heartbeat = Heartbeat(self._backend, self.story_id, self._interval, self.cancel_seen)
            self.heartbeat.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if (due := self.due_at_end(error)) is not None:
            self._final(due, error)
        return self.is_own_cancel(error)

    def _final(self, due: Due, error: BaseException | None) -> None:
        try:
            self._send(self.final(due))
        except Exception as unreported:  # noqa: BLE001 (logged; the worker's own error, if any, propagates)
            if error is None or self.is_own_cancel(error):
                self.cancel_unreported(unreported)
            else:
                self.failed_too(error, unreported)
