"""What the sync and asyncio story blocks share: the checks at the source, the receipt of each
publish, a cancel seen, and what an error that escapes the block publishes. Only the I/O differs
between them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from uuid import UUID

from codestory_progress_worker.backends import Receipt
from codestory_progress_worker.updates import Update, failure, make_update

logger = logging.getLogger(__name__)

Due = tuple[str, int, str]  # status, percent, step
CANCELLED_STEP = "Cancelled by the user"


class StoryCancelled(Exception):
    """The story's owner asked to cancel it. Raised by the first `update()` after the cancel was seen
    (and by `raise_if_cancelled()`); the story's block catches it, publishes `failed` with the step
    `Cancelled by the user`, and does not re-raise it."""

    def __init__(self, story_id: UUID) -> None:
        super().__init__(f"story {story_id} was cancelled by its owner")
        self.story_id = story_id


class StoryBlock:
    """A story held by a worker for the length of a block: its id, its owner (required in cluster
    mode), and the latest update the block published."""

    def __init__(self, story_id: UUID, owner: UUID | None) -> None:
        self.story_id = story_id
        self.owner = owner
        self.last: Update | None = None  # the latest update this block published
        self._cancel_seen = (
            False  # set by a publish's reply or a heartbeat (another thread: a bool is atomic)
        )

    @property
    def cancel_requested(self) -> bool:
        """True once a publish or a heartbeat found the story's cancel key: stop the work; the next
        `update()` raises `StoryCancelled`."""
        return self._cancel_seen

    def cancel_seen(self) -> None:
        """A heartbeat found the cancel key."""
        self._cancel_seen = True

    def raise_if_cancelled(self) -> None:
        """`StoryCancelled` if a cancel was seen: for a loop that does not publish at each turn."""
        if self._cancel_seen:
            raise StoryCancelled(self.story_id)

    def checked(self, status: str, percent: int, step: str) -> Update:
        """The update to publish; `ValueError` for a bad value, and then nothing reaches Redis;
        `StoryCancelled` once a cancel was seen, and then nothing is published either."""
        update = make_update(self.story_id, status, percent, step)
        self.raise_if_cancelled()
        return update

    def published(self, update: Update, receipt: Receipt) -> Update:
        """`update` as published: with the `seq` the script assigned, and now the block's last."""
        self.last = replace(update, seq=receipt.seq)
        self._cancel_seen = self._cancel_seen or receipt.cancel_requested
        return self.last

    def cancelled_due(self, error: BaseException | None) -> Due | None:
        """What to publish as the block ends after a cancel was seen (`error` is this story's
        `StoryCancelled`, or None for a block that stopped by itself): `failed` at the last percent,
        `Cancelled by the user`; None when the story had already ended, or no cancel applies."""
        if not (self.is_own_cancel(error) or (error is None and self._cancel_seen)):
            return None
        if self.last is not None and self.last.terminal:
            return None
        return "failed", self.last.progress_percent if self.last else 0, CANCELLED_STEP

    def due_at_end(self, error: BaseException | None) -> Due | None:
        """What the block publishes as it ends, if anything: the cancel's `failed`, else the error's."""
        due = self.cancelled_due(error)
        return due if due is not None or error is None else self.failure_due(error)

    def is_own_cancel(self, error: BaseException | None) -> bool:
        """True for this story's `StoryCancelled`: the block swallows it."""
        return isinstance(error, StoryCancelled) and error.story_id == self.story_id

    def final(self, due: Due) -> Update:
        """The update a block publishes as it ends (`failure_due`, `cancelled_due`): never refused
        for a cancel, which is what it reports."""
        return make_update(self.story_id, *due)

    def failure_due(self, error: BaseException) -> Due | None:
        """What to publish as the block ends with `error` (see `updates.failure`), or None."""
        return failure(self.last, error)

    def failed_too(self, error: BaseException, unreported: Exception) -> None:
        """Publishing `failed` failed too: logged, and noted on the worker's own error, which is the
        one that propagates."""
        logger.warning("story %s: publishing 'failed' failed too", self.story_id, exc_info=unreported)
        error.add_note(f"and publishing 'failed' for story {self.story_id} failed: {unreported!r}")

    def cancel_unreported(self, unreported: Exception) -> None:
        """Publishing the cancelled `failed` failed: logged; the cancel was honoured all the same."""
        logger.warning("story %s: publishing 'failed' (cancelled) failed", self.story_id, exc_info=unreported)
