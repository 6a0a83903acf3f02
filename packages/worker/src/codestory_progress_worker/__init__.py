"""Report a Code Story generation's progress from a worker, to the progress gateway through Redis.

```python
from codestory_progress_worker import ProgressReporter

reporter = ProgressReporter.from_url(redis_url)      # prefix, TTL, cluster mode: keyword options
with reporter.story(story_id, owner=user_id) as story:
    story.update("analyzing", 5, "Cloning the repository")
```

`codestory_progress_worker.aio` has the same API for asyncio. Depends on redis-py alone.
"""

from codestory_progress_worker.backends import Backend, ClusterBackend, Receipt, RedisBackend
from codestory_progress_worker.keys import ClusterKeys, StandaloneKeys
from codestory_progress_worker.reporter import ProgressReporter, StoryProgress
from codestory_progress_worker.updates import MAX_STEP_LENGTH, STATUSES, Update

__version__ = "0.1.0"

__all__ = [
    "MAX_STEP_LENGTH",
    "STATUSES",
    "Backend",
    "ClusterBackend",
    "ClusterKeys",
    "ProgressReporter",
    "Receipt",
    "RedisBackend",
    "StandaloneKeys",
    "StoryProgress",
    "Update",
    "__version__",
]
