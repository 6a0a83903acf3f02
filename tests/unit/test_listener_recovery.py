"""How the broker listener comes back: while the broker is down it only probes, one ping per interval,
and resubscribes as soon as a ping is answered; a broker that answers but refuses the subscription
is retried with a growing delay, never in a hot loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from itertools import pairwise

import pytest

from adapters.memory import MemoryBroker, MemoryMetrics
from domain.aio.backoff import Backoff
from domain.errors import FeedUnavailable
from domain.hub.listener import FeedListener
from domain.progress import ProgressUpdate
from domain.values import FeedEvent, OwnerUpdate, Revoked
from testkit.waiting import timeout
from tests.unit.conftest import eventually

PROBE = 0.05
FIXED = Backoff(base=0.02, cap=0.16, rng=lambda: 1.0)  # 0.02, 0.04, 0.08, 0.16, 0.16, ...


class CountingBroker(MemoryBroker):
    """Records when it was pinged and asked to subscribe; `refuse` makes it answer pings but fail
    every subscription (a broker that is up but rejects the subscription)."""

    def __init__(self) -> None:
        super().__init__()
        self.pings: list[float] = []
        self.subscribes: list[float] = []
        self.refuse = False

    async def ping(self) -> None:
        self.pings.append(time.monotonic())
        await super().ping()

    async def events(self) -> AsyncGenerator[FeedEvent, None]:
        self.subscribes.append(time.monotonic())
        if self.refuse:
            raise FeedUnavailable("subscription refused")
        async for event in super().events():
            yield event


class Subscriptions:
    """The listener's sink: it records each subscription (True: a resubscription), nothing else."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def subscribed(self, again: bool) -> None:
        self.seen.append(again)

    def received(self, event: ProgressUpdate | OwnerUpdate | Revoked) -> None:
        return None


class Running:
    def __init__(self, broker: CountingBroker) -> None:
        self.broker, self.metrics = broker, MemoryMetrics()
        sink = Subscriptions()
        self.subscribed = sink.seen
        self.listener = FeedListener(broker, self.metrics, FIXED, sink, probe_seconds=PROBE)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    run = Running(CountingBroker())
    task = asyncio.create_task(run.listener.run_forever())
    await eventually(lambda: run.listener.ready)
    yield run
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_while_the_broker_is_down_it_is_only_pinged_once_per_interval(running: Running) -> None:
    running.broker.fail()
    await eventually(lambda: not running.listener.ready)
    await eventually(lambda: len(running.broker.pings) >= 6)
    pings = running.broker.pings

    assert len(running.broker.subscribes) == 1  # no subscription tried while no ping is answered
    assert all(later - earlier >= PROBE * 0.9 for earlier, later in pairwise(pings))
    assert running.metrics.counts["listener_restarts"] == 1
    assert running.metrics.counts["listener_up"] == 0


async def test_it_resubscribes_within_about_one_probe_of_the_broker_answering(running: Running) -> None:
    running.broker.fail()
    await eventually(lambda: len(running.broker.pings) >= 3)
    running.broker.recover()
    back = time.monotonic()
    await eventually(lambda: running.listener.ready)

    assert running.broker.subscribes[-1] - back < timeout(PROBE + 0.05)
    assert running.subscribed == [False, True]  # the second one is a resubscription: a resync follows
    assert running.metrics.counts["listener_up"] == 1


async def test_a_broker_that_answers_but_refuses_the_subscription_is_retried_with_growing_delays(
    running: Running,
) -> None:
    running.broker.refuse = True
    running.broker.fail()
    running.broker.recover()  # up again at once, but every subscription fails
    await eventually(lambda: len(running.broker.subscribes) >= 6, seconds=5)
    gaps = [b - a for a, b in pairwise(running.broker.subscribes[1:])]

    # after the first refusal (attempt 1) the waits are 0.04, 0.08, 0.16 s, then the cap, 0.16 s
    waited_enough = [gap >= wanted * 0.9 for gap, wanted in zip(gaps, (0.04, 0.08, 0.16, 0.16), strict=False)]
    assert waited_enough == [True] * 4
    assert not running.listener.ready
