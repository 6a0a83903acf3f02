"""`ProgressPublisherContract` over Redis (the in-memory run is in tests/unit; `progress_ports` is the
conftest's)."""

from __future__ import annotations

from tests.contracts.progress import ProgressPublisherContract


class TestRedisProgressPublisher(ProgressPublisherContract):
    pass
