"""`ProgressFeedContract` over the in-memory broker (the Redis run is in tests/integration;
`progress_ports` is the conftest's, on the fake both ways)."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryBroker
from tests.contracts.progress_feed import BreakableFeed, ProgressFeedContract, ProgressFeedOutageContract


class TestMemoryBrokerAsFeed(ProgressFeedContract):
    pass


@pytest.fixture
def breakable_feed() -> BreakableFeed:
    broker = MemoryBroker()

    async def fail() -> None:
        broker.fail()

    return BreakableFeed(feed=broker, fail=fail)


class TestMemoryBrokerOutage(ProgressFeedOutageContract):
    pass
