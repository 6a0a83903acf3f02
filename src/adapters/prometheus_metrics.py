"""Metrics in Prometheus text format, on a registry of the container's own (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._connections = Gauge("gateway_connections", "Open client connections", ["endpoint"], registry=r)
        self._closed = Counter(
            "gateway_connections_closed", "Closed connections by reason", ["endpoint", "reason"], registry=r
        )
        self._received = Counter("gateway_updates_received", "Valid updates from the broker", registry=r)
        self._lag = Histogram(
            "gateway_update_lag_seconds",
            "From the update's updated_at to its arrival here",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
            registry=r,
        )
        self._rejected = Counter(
            "gateway_updates_rejected", "Broker messages dropped as invalid, by field", ["field"], registry=r
        )
        self._merged = Counter("gateway_updates_merged", "Queued updates replaced by newer ones", registry=r)
        self._restarts = Counter("gateway_listener_restarts", "Broker listener restarts", registry=r)
        self._sent = Counter(
            "gateway_messages_sent", "Progress messages written to clients", ["endpoint"], registry=r
        )
        self._written = Histogram(
            "gateway_delivery_lag_seconds",
            "From an update's updated_at to its write to a client socket",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
            registry=r,
        )
        self._resyncs = Counter("gateway_snapshot_resyncs", "Snapshot resyncs completed", registry=r)

    def connection_opened(self, endpoint: str) -> None:
        self._connections.labels(endpoint).inc()

    def connection_closed(self, endpoint: str, reason: str) -> None:
        self._connections.labels(endpoint).dec()
        self._closed.labels(endpoint, reason).inc()

    def update_received(self, lag_seconds: float) -> None:
        self._received.inc()
        self._lag.observe(max(lag_seconds, 0.0))

    def update_rejected(self, reason: str) -> None:
        self._rejected.labels(reason).inc()

    def updates_merged(self, count: int) -> None:
        self._merged.inc(count)

    def listener_restarted(self) -> None:
        self._restarts.inc()

    def sent(self, endpoint: str, count: int) -> None:
        self._sent.labels(endpoint).inc(count)

    def written(self, lag_seconds: float) -> None:
        self._written.observe(max(lag_seconds, 0.0))

    def resynced(self) -> None:
        self._resyncs.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
