"""The broker listener, supervised: it never dies, it backs off, and it says when it resubscribed.

Whatever ends the subscription (a broker restart, a network cut, a bug) is logged, counted and
followed by a new subscription after an exponential, jittered delay. `ready` is False from the
failure until the broker confirms the new subscription, which is what `/readyz` reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing

from domain.aio.backoff import Backoff
from domain.errors import FeedUnavailable
from domain.ports import Metrics, ProgressFeed
from domain.progress import ProgressUpdate
from domain.values import OwnerUpdate, Rejected, Revoked, Subscribed

logger = logging.getLogger(__name__)


class FeedListener:
    def __init__(
        self,
        feed: ProgressFeed,
        metrics: Metrics,
        backoff: Backoff,
        on_subscribed: Callable[[bool], None],
        on_update: Callable[[ProgressUpdate | OwnerUpdate | Revoked], None],
    ) -> None:
        self._feed = feed
        self._metrics = metrics
        self._backoff = backoff
        self._on_subscribed = on_subscribed
        self._on_update = on_update
        self._subscriptions = 0
        self.ready = False

    async def run_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async with aclosing(self._feed.events()) as events:
                    async for event in events:
                        if isinstance(event, Subscribed):
                            attempt = 0
                            self._subscribed()
                            continue
                        self._metrics.broker_message()
                        if isinstance(event, Rejected):
                            logger.warning("dropped message on %s: %s", event.channel, event.reason)
                            self._metrics.update_rejected(event.reason.split(":", 1)[0])
                        else:
                            self._on_update(event)
                raise FeedUnavailable("the feed ended")
            except FeedUnavailable as exc:
                logger.warning("progress listener lost the broker: %s", exc)
            except Exception:
                logger.exception("progress listener failed")
            self.ready = False
            self._metrics.listener_restarted()
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    def _subscribed(self) -> None:
        self._subscriptions += 1
        self.ready = True
        self._on_subscribed(self._subscriptions > 1)
