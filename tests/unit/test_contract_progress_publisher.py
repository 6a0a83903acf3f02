"""`ProgressPublisherContract` over the in-memory broker (the Redis run is in tests/integration;
`progress_ports` is the conftest's)."""

from __future__ import annotations

from tests.contracts.progress import ProgressPublisherContract


class TestMemoryBrokerAsPublisher(ProgressPublisherContract):
    pass
