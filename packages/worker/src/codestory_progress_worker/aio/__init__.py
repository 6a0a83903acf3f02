"""The asyncio API of the worker SDK: the same names as the sync one, awaited.

```python
from codestory_progress_worker.aio import ProgressReporter

reporter = ProgressReporter.from_url(redis_url)
async with reporter.story(story_id, owner=user_id) as story:
    await story.update("analyzing", 5, "Cloning the repository")
```
"""

from codestory_progress_worker.aio.backends import (
    AsyncBackend,
    AsyncClusterBackend,
    AsyncHeartbeats,
    AsyncRedisBackend,
)
from codestory_progress_worker.aio.reporter import ProgressReporter, StoryProgress
from codestory_progress_worker.backends import Receipt
from codestory_progress_worker.blocks import CANCELLED_STEP, StoryCancelled
from codestory_progress_worker.updates import MAX_STEP_LENGTH, STATUSES, Update

__all__ = [
    "CANCELLED_STEP",
    "MAX_STEP_LENGTH",
    "STATUSES",
    "AsyncBackend",
    "AsyncClusterBackend",
    "AsyncHeartbeats",
    "AsyncRedisBackend",
    "ProgressReporter",
    "Receipt",
    "StoryCancelled",
    "StoryProgress",
    "Update",
]
