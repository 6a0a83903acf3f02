"""The broker listener, supervised: it never dies, it backs off, and it says when it resubscribed.

Whatever ends the subscription (a broker restart, a network cut, a bug) is logged, counted and
followed by a new subscription as soon as the broker answers a ping again (probed every 0.1 s
while it is down), after an exponential, jittered delay when it answers but the subscription keeps
failing. `ready` is False from the failure until the broker confirms the new subscription, which
is what `/readyz` reports.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Protocol

from domain.aio.backoff import Backoff
from domain.errors import FeedUnavailable
from domain.ports import FeedMetrics, ProgressFeed
from domain.progress import ProgressUpdate
from domain.values import OwnerUpdate, Rejected, Revoked, Subscribed

logger = logging.getLogger(__name__)

# While the broker is down, one ping per interval: a broker that answers again is seen within it.
PROBE_SECONDS = 0.1


class FeedSink(Protocol):
    """Where the listener hands what the feed brings (`Delivery`)."""

    def subscribed(self, again: bool) -> None:
        """The broker confirmed a subscription: the first one, or `again` after a loss."""
        ...

    def received(self, event: ProgressUpdate | OwnerUpdate | Revoked) -> None: ...


class FeedListener:
    def __init__(
        self,
        feed: ProgressFeed,
        metrics: FeedMetrics,
        backoff: Backoff,
        sink: FeedSink,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self._feed = feed
        self._probe_seconds = probe_seconds
        self._metrics = metrics
        self._backoff = backoff
        self._sink = sink
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
                        else:
                            self._heard(event)
                raise FeedUnavailable("the feed ended")
            except FeedUnavailable as exc:
                logger.warning("progress listener lost the broker: %s", exc)
            except Exception:
                logger.exception("progress listener failed")
            self.ready = False
            self._metrics.listener_restarted()
            self._metrics.listener_up(False)
            attempt = await self._recover(attempt)

    async def _recover(self, attempt: int) -> int:
        """Wait until subscribing again may work; return the next attempt number.

        First the backoff of `attempt` (failures in a row while the broker answered: a broker that
        is up but refuses the subscription is not retried in a hot loop), then one ping every
        `probe_seconds` until the broker answers, so that deliveries resume within about that
        interval of its return instead of after a doubled delay. A failure that found the broker
        down was an outage, not a refusal: the backoff starts again from the first attempt."""
        await asyncio.sleep(self._backoff.delay(attempt))
        was_down = False
        while not await self._broker_answers():
            was_down = True
            await asyncio.sleep(self._probe_seconds)
        return 0 if was_down else attempt + 1

    async def _broker_answers(self) -> bool:
        try:
            await self._feed.ping()
        except FeedUnavailable:
            return False
        except Exception:
            # A bug in the probe must not end the listener: the subscription attempt that follows
            # fails or succeeds on its own, and its failures are backed off.
            logger.exception("broker probe failed")
        return True

    def _heard(self, event: ProgressUpdate | OwnerUpdate | Revoked | Rejected) -> None:
        self._metrics.broker_message()
        if isinstance(event, Rejected):
            self._rejected(event)
            return
        if isinstance(event, ProgressUpdate):
            self._metrics.update_received((datetime.now(UTC) - event.updated_at).total_seconds())
        self._sink.received(event)

    def _rejected(self, event: Rejected) -> None:
        """Counted by reason; logged with the channel and the detail (the log formatter escapes
        what a publisher put there, and folds a flood of these into a count)."""
        self._metrics.update_rejected(event.reason)
        logger.warning("dropped message on %s: %s: %s", event.channel, event.reason.value, event.detail)

    def _subscribed(self) -> None:
        self._subscriptions += 1
        self.ready = True
        self._metrics.listener_up(True)
        self._sink.subscribed(self._subscriptions > 1)
