"""Metrics on the per-update path, kept as plain numbers and exposed at scrape time.

prometheus-client's `Counter.inc` and `Histogram.observe` take a lock and cost about 1 µs each;
on the fan-out path, several per update, that was a fifth of the work. These are single-threaded
(the event loop) and cost a few tens of nanoseconds; a custom collector turns them into the same
counter and histogram families when `/metrics` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class HotCounter:
    """A counter with optional label values: `add(n, *labels)`."""

    __slots__ = ("description", "labels", "name", "values")

    def __init__(self, name: str, description: str, labels: Sequence[str] = ()) -> None:
        self.name, self.description, self.labels = name, description, list(labels)
        self.values: dict[tuple[str, ...], float] = {} if labels else {(): 0.0}

    def add(self, amount: float, *labels: str) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.description, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        return family


class HotHistogram:
    """A histogram of one series: bucket counts by bisection, exposed cumulative."""

    __slots__ = ("bounds", "counts", "description", "name", "total")

    def __init__(self, name: str, description: str, bounds: Sequence[float]) -> None:
        self.name, self.description = name, description
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self) -> Metric:
        buckets, running = [], 0
        for bound, count in zip([*map(floatToGoString, self.bounds), "+Inf"], self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return HistogramMetricFamily(self.name, self.description, buckets=buckets, sum_value=self.total)


class HotMetrics:
    """The collector: register once on a registry."""

    def __init__(self, *metrics: HotCounter | HotHistogram) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()
