"""Cancel, as a use case: the owner asks, the gateway checks, records and signals the worker.

The same rules as a connect decide who may (`AccessPolicy.story_for`); a story whose stored state
is terminal is refused; otherwise the request is recorded in Redis (the story's cancel key) and
signalled on its cancel channel, and it is the worker that ends the story (`failed`, cancelled):
the gateway never changes a story's state itself. Every answer is counted by outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from domain.access.policy import AccessPolicy
from domain.errors import AccessDenied, DirectoryUnavailable, FeedUnavailable
from domain.hub.snapshots import SnapshotReader
from domain.ports import ControlMetrics, WorkerSignals
from domain.values import CancelOutcome, CancelRequest, Principal

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Cancels:
    def __init__(
        self,
        policy: AccessPolicy,
        snapshots: SnapshotReader,
        signals: WorkerSignals,
        metrics: ControlMetrics,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._policy = policy
        self._snapshots = snapshots
        self._signals = signals
        self._metrics = metrics
        self._clock = clock

    async def cancel(self, principal: Principal, raw_story_id: str) -> CancelOutcome:
        """Never raises for the request's sake: a bad id or another user's story is `forbidden`,
        PostgreSQL or Redis failing is `unavailable`."""
        outcome = await self._decide(principal, raw_story_id)
        self._metrics.cancel_requested(outcome)
        logger.info("cancel of story %s: %s", raw_story_id[:36], outcome.value)
        return outcome

    async def _decide(self, principal: Principal, raw_story_id: str) -> CancelOutcome:
        try:
            story_id = await self._policy.story_for(principal, raw_story_id)
        except AccessDenied:
            return CancelOutcome.FORBIDDEN
        except DirectoryUnavailable:
            return CancelOutcome.UNAVAILABLE
        try:
            stored = await self._snapshots.read([story_id])
            if stored and stored[0].status.terminal:
                return CancelOutcome.TERMINAL
            await self._signals.cancel(CancelRequest(story_id, principal.user_id, self._clock()))
        except FeedUnavailable as exc:
            logger.warning("cancel not recorded, Redis unavailable: %s", exc)
            return CancelOutcome.UNAVAILABLE
        return CancelOutcome.OK
