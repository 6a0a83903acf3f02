"""What the sync and asyncio story blocks share: the checks at the source, the receipt of each
publish, and what an error that escapes the block publishes. Only the I/O differs between them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from uuid import UUID

from codestory_progress_worker.backends import Receipt
from codestory_progress_worker.updates import Update, failure, make_update

logger = logging.getLogger(__name__)

Due = tuple[str, int, str]  # status, percent, step


class StoryBlock:
    """A story held by a worker for the length of a block: its id, its owner (required in cluster
    mode), and the latest update the block published."""

    def __init__(self, story_id: UUID, owner: UUID | None) -> None:
        self.story_id = story_id
        self.owner = owner
        self.last: Update | None = None  # the latest update this block published

    def checked(self, status: str, percent: int, step: str) -> Update:
        """The update to publish; `ValueError` for a bad value, and then nothing reaches Redis."""
        return make_update(self.story_id, status, percent, step)

    def published(self, update: Update, receipt: Receipt) -> Update:
        """`update` as published: with the `seq` the script assigned, and now the block's last."""
        self.last = replace(update, seq=receipt.seq)
        return self.last

    def failure_due(self, error: BaseException) -> Due | None:
        """What to publish as the block ends with `error` (see `updates.failure`), or None."""
        return failure(self.last, error)

    def failed_too(self, error: BaseException, unreported: Exception) -> None:
        """Publishing `failed` failed too: logged, and noted on the worker's own error, which is the
        one that propagates."""
        logger.warning("story %s: publishing 'failed' failed too", self.story_id, exc_info=unreported)
        error.add_note(f"and publishing 'failed' for story {self.story_id} failed: {unreported!r}")
