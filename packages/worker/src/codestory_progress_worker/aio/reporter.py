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

from codestory_progress_worker.aio.backends import AsyncBackend, async_backend_from_url
from codestory_progress_worker.blocks import StoryBlock
from codestory_progress_worker.updates import DEFAULT_TTL_SECONDS, Update, story_and_owner


class ProgressReporter:
    """A worker's entry point. `story()` opens a block that holds a story; `publish()` sends one
    update on a story's behalf; `revoke()` tells the gateways that a story's owner changed."""

    def __init__(self, backend: AsyncBackend) -> None:
        self.backend = backend

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        cluster: bool = False,
        **redis_options: Any,
    ) -> ProgressReporter:
        """As the sync `ProgressReporter.from_url`; nothing connects until the first publish."""
        backend = async_backend_from_url(
            url, prefix=prefix, ttl_seconds=ttl_seconds, cluster=cluster, **redis_options
        )
        return cls(backend)

    def story(self, story_id: UUID | str, *, owner: UUID | str | None = None) -> StoryProgress:
        """The owner is required in cluster mode; elsewhere the gateway looks it up."""
        story, user = story_and_owner(story_id, owner, requires_owner=self.backend.requires_owner)
        return StoryProgress(self.backend, story, user)

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
    """A story held by a worker for the length of an `async with` block. An `Exception` that
    escapes the block publishes `failed` (at the last percent, the step naming only the error's
    type), then propagates; a cancelled task publishes nothing; a finished story is left as it is."""

    def __init__(self, backend: AsyncBackend, story_id: UUID, owner: UUID | None) -> None:
        super().__init__(story_id, owner)
        self._backend = backend

    async def update(self, status: str, percent: int, step: str) -> Update:
        """Publish one update; `ValueError` for a bad value, and then nothing reaches Redis."""
        update = self.checked(status, percent, step)
        receipt = await self._backend.publish(self.story_id, self.owner, update.body())
        return self.published(update, receipt)

    async def __aenter__(self) -> StoryProgress:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is None or (due := self.failure_due(error)) is None:
            return
        try:
            await self.update(*due)
        except Exception as unreported:  # noqa: BLE001 (logged and noted by failed_too; the worker's own error propagates)
            self.failed_too(error, unreported)
