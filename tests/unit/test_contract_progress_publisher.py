"""`ProgressPublisherContract` over the in-memory broker (the Redis run is in tests/integration)."""

from __future__ import annotations

from tests.contracts.progress import ProgressPublisherContract
from tests.unit.test_contract_progress_feed import progress_ports  # noqa: F401 (the shared fixture)


class TestMemoryBrokerAsPublisher(ProgressPublisherContract):
    pass
