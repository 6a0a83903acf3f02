"""Metrics in Prometheus text format, on a registry of the container's own (never the global one).

Every label has a bounded set of values, fixed in code: endpoints, close reasons and the domain's
enums; close codes outside the known set are counted as `other` (a client picks its own code).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from adapters.prometheus_hot import HotCounter, HotHistogram, HotMetrics
from domain.errors import AuthFailure, close_code_label
from domain.progress import RejectReason
from domain.values import CancelOutcome

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._connections = Gauge("gateway_connections", "Open client connections", ["endpoint"], registry=r)
        self._closed = Counter(
            "gateway_connections_closed", "Closed connections by reason", ["endpoint", "reason"], registry=r
        )
        self._rejected = Counter(
            "gateway_updates_rejected", "Broker messages dropped as invalid, by field", ["field"], registry=r
        )
        self._merged = Counter("gateway_updates_merged", "Queued updates replaced by newer ones", registry=r)
        self._restarts = Counter("gateway_listener_restarts", "Broker listener restarts", registry=r)
        self._listener_up = Gauge(
            "gateway_listener_up",
            "1 while the broker subscription is confirmed, 0 while it is lost",
            registry=r,
        )
        self._connect = Histogram(
            "gateway_connect_seconds",
            "From accept to a subscribed connection with its snapshot queued (token, ownership, snapshot)",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self._closes = Counter(
            "gateway_closes", "Ended connections by WebSocket close code", ["endpoint", "code"], registry=r
        )
        self._auth_failures = Counter(
            "gateway_auth_failures", "Tokens refused at connect, by reason", ["reason"], registry=r
        )
        self._resyncs = Counter(
            "gateway_snapshot_resyncs", "Passes offering every subscriber the stored snapshots", registry=r
        )
        self._cancels = Counter(
            "gateway_cancel_requests", "Cancel requests of story owners, by outcome", ["outcome"], registry=r
        )
        for outcome in CancelOutcome:
            self._cancels.labels(outcome.value)
        self._received = HotCounter("gateway_updates_received", "Valid updates from the broker")
        self._lag = HotHistogram(
            "gateway_update_lag_seconds", "From the update's updated_at to its arrival here", _LAG_BUCKETS
        )
        self._sent = HotCounter("gateway_messages_sent", "Progress messages written to clients", ["endpoint"])
        self._write_lag = HotHistogram(
            "gateway_write_lag_seconds",
            "From the update's updated_at to its write to a client socket",
            _LAG_BUCKETS,
        )
        self._broker_messages = HotCounter(
            "gateway_broker_messages", "Messages read from the broker, valid or not"
        )
        r.register(HotMetrics(self._received, self._lag, self._sent, self._write_lag, self._broker_messages))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def connection_opened(self, endpoint: str) -> None:
        self._connections.labels(endpoint).inc()

    def connection_closed(self, endpoint: str, reason: str, code: int) -> None:
        self._connections.labels(endpoint).dec()
        self._closed.labels(endpoint, reason).inc()
        self._closes.labels(endpoint, close_code_label(code)).inc()

    def update_received(self, lag_seconds: float) -> None:
        self._received.add(1)
        self._lag.observe(max(lag_seconds, 0.0))

    def update_rejected(self, reason: RejectReason) -> None:
        self._rejected.labels(reason.value).inc()

    def updates_merged(self, count: int) -> None:
        self._merged.inc(count)

    def listener_restarted(self) -> None:
        self._restarts.inc()

    def listener_up(self, up: bool) -> None:
        self._listener_up.set(1 if up else 0)

    def sent(self, endpoint: str, count: int) -> None:
        self._sent.add(count, endpoint)

    def written(self, lag_seconds: float) -> None:
        self._write_lag.observe(max(lag_seconds, 0.0))

    def connected(self, endpoint: str, seconds: float) -> None:
        self._connect.labels(endpoint).observe(seconds)

    def authentication_failed(self, reason: AuthFailure) -> None:
        self._auth_failures.labels(reason.value).inc()

    def snapshots_resynced(self) -> None:
        self._resyncs.inc()

    def broker_message(self) -> None:
        self._broker_messages.add(1)

    def cancel_requested(self, outcome: CancelOutcome) -> None:
        self._cancels.labels(outcome.value).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
