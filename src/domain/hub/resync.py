"""Resync: offer every subscriber the stored snapshots it may have missed.

Asked for after the broker subscription is (re)established and whenever a snapshot could not be
read for a subscriber. Retried with backoff until it succeeds, since nothing else would bring back
an update lost meanwhile; one pass at a time, and a request during a pass asks for one more.
Each snapshot is read once and encoded once, however many subscribers want it.
"""

from __future__ import annotations

import asyncio
import logging

from domain.aio.backoff import Backoff
from domain.errors import DirectoryUnavailable, FeedUnavailable
from domain.hub.offers import SnapshotOffers
from domain.hub.subscribers import Subscribers
from domain.ports import FeedMetrics, StoryDirectory

logger = logging.getLogger(__name__)


class Resync:
    def __init__(
        self,
        offers: SnapshotOffers,
        directory: StoryDirectory,
        subscribers: Subscribers,
        metrics: FeedMetrics,
        backoff: Backoff,
    ) -> None:
        self._offers = offers
        self._directory = directory
        self._subscribers = subscribers
        self._metrics = metrics
        self._backoff = backoff
        self._wanted = False
        self._wake: asyncio.Event | None = None  # made in the loop, by `run_forever`

    def request(self) -> None:
        self._wanted = True
        if self._wake is not None:
            self._wake.set()

    def subscribed(self, again: bool) -> None:
        """After a resubscription, seqs may have restarted and updates been missed: resync. So too
        after the first one, for clients that connected while the broker was not there yet."""
        if again:
            self._subscribers.reset_order()
        if again or len(self._subscribers):
            self.request()

    async def run_forever(self) -> None:
        """One pass per request (requests during a pass make one more), retried until it works."""
        self._wake = wake = asyncio.Event()
        attempt = 0
        while True:
            if not self._wanted:
                wake.clear()
                await wake.wait()
            self._wanted = False
            try:
                await self._pass()
                attempt = 0
                continue
            except (FeedUnavailable, DirectoryUnavailable) as exc:
                logger.warning("resync failed, retrying: %s", exc)
                self._wanted = True
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _pass(self) -> None:
        by_story, by_user = self._subscribers.by_story, self._subscribers.by_user
        await self._offers.offer_each(by_story, {story: (story,) for story in list(by_story)}, "story")
        stories = {user: await self._directory.stories_of(user) for user in list(by_user)}
        await self._offers.offer_each(by_user, stories, "dashboard")
        self._metrics.snapshots_resynced()
