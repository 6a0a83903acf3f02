"""The per-update metrics kept as plain numbers expose exactly what prometheus-client's own would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from adapters.prometheus_hot import HotCounter, HotHistogram, HotMetrics

BOUNDS = (0.005, 0.01, 0.5, 1, 60)
VALUES = [0.0, 0.005, 0.0051, 0.3, 1.0, 59.9, 61.0, 1000.0]


def exposition(registry: CollectorRegistry) -> list[str]:
    return sorted(
        line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")
    )


def test_a_hot_histogram_exposes_the_same_samples_as_a_prometheus_histogram() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("lag_seconds", "lag", buckets=BOUNDS, registry=theirs)
    hot = HotHistogram("lag_seconds", "lag", BOUNDS)
    ours.register(HotMetrics(hot))

    for value in VALUES:
        reference.observe(value)
        hot.observe(value)

    assert [line for line in exposition(ours) if "_created" not in line] == [
        line for line in exposition(theirs) if "_created" not in line
    ]


def test_a_hot_counter_with_labels_exposes_the_same_samples_as_a_prometheus_counter() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Counter("sent", "sent", ["endpoint"], registry=theirs)
    hot = HotCounter("sent", "sent", ["endpoint"])
    ours.register(HotMetrics(hot))

    for endpoint, amount in [("story", 3), ("dashboard", 1), ("story", 2)]:
        reference.labels(endpoint).inc(amount)
        hot.add(amount, endpoint)

    assert [line for line in exposition(ours) if "_created" not in line] == [
        line for line in exposition(theirs) if "_created" not in line
    ]
