"""The asyncio API: the sync API's names and shape, with `async with` and `await`.

```python
reporter = ProgressReporter.from_url(redis_url)
async with reporter.story(story_id, owner=user_id) as story:
    await story.update("analyzing", 5, "Cloning the repository")
```
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from uuid import UUID

from codestory_progress_worker.aio.backends import AsyncBackend, AsyncHeartbeats, async_backend_from_url
from codestory_progress_worker.aio.heartbeat import AsyncHeartbeat
from codestory_progress_worker.blocks import Due, StoryBlock
from codestory_progress_worker.liveness import DEFAULT_HEARTBEAT_SECONDS, heartbeat_interval
from codestory_progress_worker.updates import DEFAULT_TTL_SECONDS, Update, story_and_owner


class ProgressReporter:
    """A worker's entry point. `story()` opens a block that holds a story; `publish()` sends one
    update on a story's behalf; `revoke()` tells the gateways that a story's owner changed.
    `heartbeat_seconds` as the sync reporter's, from a task on the block's loop."""

    def __init__(
        self, backend: AsyncBackend, *, heartbeat_seconds: float | None = DEFAULT_HEARTBEAT_SECONDS
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
        """As the sync `ProgressReporter.from_url`; nothing connects until the first publish."""
        interval = heartbeat_interval(heartbeat_seconds)
        backend = async_backend_from_url(
            url, prefix=prefix, ttl_seconds=ttl_seconds, cluster=cluster, **redis_options
        )
        return cls(backend, heartbeat_seconds=interval)

    def story(self, story_id: UUID | str, *, owner: UUID | str | None = None) -> StoryProgress:
        """The owner is required in cluster mode; elsewhere the gateway looks it up."""
        story, user = story_and_owner(story_id, owner, requires_owner=self.backend.requires_owner)
        return StoryProgress(self.backend, story, user, heartbeat_seconds=self.heartbeat_seconds)

    async def publish(
        self, story_id: UUID | str, status: str, percent: int, step: str, *, owner: UUID | str | None = None
    ) -> Update:
        """One update, outside any block: nothing is published if it raises."""
        return await self.story(story_id, owner=owner).update(status, percent, step)

    async def revoke(self, story_id: UUID | str) -> int:
        """Every gateway re-checks the story's owner at once; returns how many connections heard it."""
        story, _ = story_and_owner(story_id, None, requires_owner=False)
        return await self.backend.revoke(story)

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def __aenter__(self) -> ProgressReporter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class StoryProgress(StoryBlock):
    """A story held by a worker for the length of an `async with` block, its liveness key kept
    fresh by a heartbeat task meanwhile. An `Exception` that escapes the block publishes `failed`
    (at the last percent, the step naming only the error's type), then propagates; a cancelled task
    publishes nothing; a finished story is left as it is. A cancel makes the next `update()` raise
    `StoryCancelled`, which the block turns into `failed` (`Cancelled by the user`) and swallows."""

    def __init__(
        self,
        backend: AsyncBackend,
        story_id: UUID,
        owner: UUID | None,
        *,
        heartbeat_seconds: float | None = None,
    ) -> None:
        super().__init__(story_id, owner)
        self._backend = backend
        self._interval = heartbeat_seconds
        self.heartbeat: AsyncHeartbeat | None = None  # while the block is open, if heartbeats are on

    async def update(self, status: str, percent: int, step: str) -> Update:
        """Publish one update; `ValueError` for a bad value, and then nothing reaches Redis;
        `StoryCancelled` once a cancel was seen."""
        return await self._send(self.checked(status, percent, step))

    async def _send(self, update: Update) -> Update:
        receipt = await self._backend.publish(self.story_id, self.owner, update.body())
        return self.published(update, receipt)

    async def __aenter__(self) -> StoryProgress:
        if self._interval is not None and isinstance(self._backend, AsyncHeartbeats):
            self.heartbeat = AsyncHeartbeat(self._backend, self.story_id, self._interval, self.cancel_seen)
            self.heartbeat.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if (due := self.due_at_end(error)) is not None:
            await self._final(due, error)
        return self.is_own_cancel(error)

    async def _final(self, due: Due, error: BaseException | None) -> None:
        try:
            await self._send(self.final(due))
        except Exception as unreported:  # noqa: BLE001 (logged; the worker's own error, if any, propagates)
            if error is None or self.is_own_cancel(error):
                self.cancel_unreported(unreported)
            else:
                self.failed_too(error, unreported)
