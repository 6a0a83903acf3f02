"""`/metrics` of one process, or of every worker of `serve --workers N` whichever one is scraped.

Under `--workers` the kernel hands a scrape to any worker. Each worker answers its siblings on a
Unix socket with its own families (its registry collected, the per-update counters of
`prometheus_hot` included, as JSON); the worker scraped reads every sibling's at once, each
bounded by `timeout`, and renders them with its own, every sample labelled `worker="<slot>"`.
`gateway_worker_up{worker}` says whose families are in: a sibling that is starting, or too busy
to answer in time, shows as 0 instead of missing silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from adapters.prometheus_metrics import PrometheusMetrics

logger = logging.getLogger(__name__)

WORKER_LABEL = "worker"
FAMILIES_MAX_BYTES = 4 * 2**20  # a sibling's answer beyond this is refused (ours is about 20 KB)


class ProcessScrape:
    """One process: its own registry, as it is."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics

    async def render(self) -> bytes:
        return self._metrics.render()


class WorkersScrape:
    """Every worker: this one's families (`slot`) and its siblings' (read from `siblings`)."""

    def __init__(
        self, metrics: PrometheusMetrics, slot: int, siblings: Mapping[int, Path], timeout: float = 1.0
    ) -> None:
        self._metrics, self._slot, self._siblings, self._timeout = metrics, slot, siblings, timeout

    async def render(self) -> bytes:
        own = list(self._metrics.registry.collect())
        slots = sorted(self._siblings)
        fetched = await asyncio.gather(*(self._fetch(self._siblings[slot]) for slot in slots))
        workers = {self._slot: own, **dict(zip(slots, fetched, strict=True))}
        return generate_latest(_Merged(workers))

    async def _fetch(self, path: Path) -> list[Metric] | None:
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await asyncio.open_unix_connection(path)
                try:
                    data = await _read_to_end(reader)
                finally:
                    writer.close()
            return decode_families(data)
        except (OSError, TimeoutError, ValueError) as error:
            logger.info("no metrics from the worker at %s: %r", path.name, error)
            return None


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(2**16):
        size += len(chunk)
        if size > FAMILIES_MAX_BYTES:
            raise ValueError(f"a sibling sent over {FAMILIES_MAX_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def answer_sibling(
    metrics: PrometheusMetrics, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A sibling's request on our socket: our families, then the end of the stream."""
    try:
        writer.write(encode_families(metrics.registry.collect()))
        await writer.drain()
    except OSError as error:
        logger.debug("a sibling left before our metrics were sent: %s", error)
    finally:
        writer.close()


class _Merged:
    """A collector over every worker's families: one family per name, each sample labelled."""

    def __init__(self, workers: Mapping[int, list[Metric] | None]) -> None:
        self._workers = workers

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "gateway_worker_up", "1 when the worker's metrics are in this scrape", labels=[WORKER_LABEL]
        )
        merged: dict[str, Metric] = {}
        for slot, families in sorted(self._workers.items()):
            up.add_metric([str(slot)], 0 if families is None else 1)
            for family in families or ():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, WORKER_LABEL: str(slot)}, sample.value)
        yield up
        yield from merged.values()


def encode_families(families: Iterable[Metric]) -> bytes:
    """Families as JSON: name, help, type, unit and (name, labels, value) samples."""
    return json.dumps(
        [
            [f.name, f.documentation, f.type, f.unit, [[s.name, s.labels, s.value] for s in f.samples]]
            for f in families
        ]
    ).encode()


def decode_families(data: bytes) -> list[Metric]:
    """What `encode_families` wrote; raises ValueError for anything else."""
    try:
        raw: list[Any] = json.loads(data)
        families = []
        for name, documentation, typ, unit, samples in raw:
            family = Metric(str(name), str(documentation), str(typ), str(unit))
            for sample_name, labels, value in samples:
                family.add_sample(str(sample_name), {str(k): str(v) for k, v in labels.items()}, float(value))
            families.append(family)
    except (TypeError, AttributeError) as error:
        raise ValueError(f"not a families document: {error!r}") from error
    return families
