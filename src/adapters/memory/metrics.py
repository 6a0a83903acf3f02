"""In-memory metrics: every concern's calls counted, for the tests to read."""

from __future__ import annotations

from collections import Counter

from domain.errors import AuthFailure
from domain.progress import RejectReason
from domain.values import CancelOutcome


class MemoryMetrics:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.open: Counter[str] = Counter()

    def connection_opened(self, endpoint: str) -> None:
        self.open[endpoint] += 1

    def connection_closed(self, endpoint: str, reason: str, code: int) -> None:
        self.open[endpoint] -= 1
        self.counts[f"closed:{reason}"] += 1
        self.counts[f"close_code:{code}"] += 1

    def update_received(self, lag_seconds: float) -> None:
        self.counts["received"] += 1

    def update_rejected(self, reason: RejectReason) -> None:
        self.counts[f"rejected:{reason}"] += 1

    def updates_merged(self, count: int) -> None:
        self.counts["merged"] += count

    def listener_restarted(self) -> None:
        self.counts["listener_restarts"] += 1

    def listener_up(self, up: bool) -> None:
        self.counts["listener_up"] = int(up)

    def sent(self, endpoint: str, count: int) -> None:
        self.counts[f"sent:{endpoint}"] += count

    def written(self, lag_seconds: float) -> None:
        self.counts["written"] += 1

    def connected(self, endpoint: str, seconds: float) -> None:
        self.counts[f"connected:{endpoint}"] += 1

    def authentication_failed(self, reason: AuthFailure) -> None:
        self.counts[f"auth_failed:{reason}"] += 1

    def snapshots_resynced(self) -> None:
        self.counts["resyncs"] += 1

    def broker_message(self) -> None:
        self.counts["broker_messages"] += 1

    def cancel_requested(self, outcome: CancelOutcome) -> None:
        self.counts[f"cancel:{outcome}"] += 1
