"""`ProgressPublisherContract` over Redis (the in-memory run is in tests/unit)."""

from __future__ import annotations

from tests.contracts.progress import ProgressPublisherContract
from tests.integration.test_contract_progress_feed import progress_ports  # noqa: F401 (the shared fixture)


class TestRedisProgressPublisher(ProgressPublisherContract):
    pass
