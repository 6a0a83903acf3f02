"""`ProgressFeedContract` over the in-memory broker (the Redis run is in tests/integration)."""

from __future__ import annotations

from uuid import UUID

import pytest

from adapters.memory import MemoryBroker
from tests.contracts.progress import (
    BreakableFeed,
    ProgressFeedContract,
    ProgressFeedOutageContract,
    ProgressPorts,
)


class MemoryRawChannel:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    def channel(self, story_id: UUID) -> str:
        return f"story:{story_id}"

    async def send(self, story_id: UUID, data: bytes) -> None:
        self._broker.publish_raw(self.channel(story_id), data)

    async def revoke(self, data: bytes) -> None:
        self._broker.publish_raw("revocations", data)


@pytest.fixture(params=[False, True], ids=["standalone", "per-topic"])
def progress_ports(request: pytest.FixtureRequest) -> ProgressPorts:
    """The fake both ways: as the standalone feed, and playing the cluster feed (`per_topic`)."""
    broker = MemoryBroker(per_topic=request.param)
    return ProgressPorts(feed=broker, publisher=broker, raw=MemoryRawChannel(broker))


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
