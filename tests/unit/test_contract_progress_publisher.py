"""`ProgressPublisherContract` over the in-memory broker (the Redis run is in tests/integration)."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryBroker
from tests.contracts.progress import ProgressPorts, ProgressPublisherContract
from tests.unit.test_contract_progress_feed import MemoryRawChannel


@pytest.fixture
def progress_ports() -> ProgressPorts:
    broker = MemoryBroker()
    return ProgressPorts(feed=broker, publisher=broker, raw=MemoryRawChannel(broker))


class TestMemoryBrokerAsPublisher(ProgressPublisherContract):
    pass
