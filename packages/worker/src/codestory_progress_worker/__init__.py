"""Report a Code Story generation's progress from a worker, to the progress gateway through Redis.

```python
from codestory_progress_worker import ProgressReporter

reporter = ProgressReporter.from_url(redis_url)      # prefix, TTL, cluster mode: keyword options
with reporter.story(story_id, owner=user_id) as story:
    story.update("analyzing", 5, "Cloning the repository")
```

While the block is open a heartbeat thread keeps the story's liveness key fresh
(`heartbeat_seconds=`, 5 by default); a cancel from the story's owner makes the next `update()`
raise `StoryCancelled`, which the block turns into `failed` ("Cancelled by the user").

`codestory_progress_worker.aio` has the same API for asyncio. Depends on redis-py alone.
"""

from codestory_progress_worker.backends import Backend, ClusterBackend, Heartbeats, Receipt, RedisBackend
from codestory_progress_worker.blocks import CANCELLED_STEP, StoryCancelled
from codestory_progress_worker.keys import ClusterKeys, StandaloneKeys
from codestory_progress_worker.reporter import ProgressReporter, StoryProgress
from codestory_progress_worker.updates import MAX_STEP_LENGTH, STATUSES, Update

__version__ = "0.1.0"

__all__ = [
    "CANCELLED_STEP",
    "MAX_STEP_LENGTH",
    "STATUSES",
    "Backend",
    "ClusterBackend",
    "ClusterKeys",
    "Heartbeats",
    "ProgressReporter",
    "Receipt",
    "RedisBackend",
    "StandaloneKeys",
    "StoryCancelled",
    "StoryProgress",
    "Update",
    "__version__",
]
