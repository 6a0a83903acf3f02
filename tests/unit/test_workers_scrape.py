"""The scrape of `serve --workers N` over real Unix sockets: a worker's families and its siblings',
every sample labelled with its worker, the per-update counters included; a sibling that does not
answer shows as `gateway_worker_up 0`, and an answer that is not a families document is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest

from adapters.prometheus_metrics import PrometheusMetrics
from adapters.prometheus_workers import WorkersScrape, answer_sibling, decode_families, encode_families
from testkit.metrics import Scrape


@asynccontextmanager
async def sibling(metrics: PrometheusMetrics, path: Path) -> AsyncIterator[None]:
    server = await asyncio.start_unix_server(partial(answer_sibling, metrics), path=path)
    try:
        yield
    finally:
        server.close()


def busy(sent: int, connections: int) -> PrometheusMetrics:
    metrics = PrometheusMetrics()
    metrics.sent("story", sent)  # a per-update (hot) counter
    for _ in range(connections):
        metrics.connection_opened("story")
    return metrics


async def test_a_scrape_holds_every_worker_labelled_by_slot(tmp_path: Path) -> None:
    mine, theirs = busy(sent=3, connections=1), busy(sent=5, connections=2)
    scrape = WorkersScrape(mine, 0, {1: tmp_path / "worker-1.sock"})
    async with sibling(theirs, tmp_path / "worker-1.sock"):
        parsed = Scrape.parse((await scrape.render()).decode())

    assert parsed.value("gateway_messages_sent_total", worker="0") == 3
    assert parsed.value("gateway_messages_sent_total", worker="1") == 5
    assert parsed.value("gateway_connections", endpoint="story") == 3
    assert parsed.value("gateway_worker_up", worker="0") == parsed.value("gateway_worker_up", worker="1") == 1
    assert len(parsed.samples["process_resident_memory_bytes"]) == 2


async def test_a_sibling_that_does_not_answer_is_up_0_and_the_rest_is_served(tmp_path: Path) -> None:
    scrape = WorkersScrape(busy(sent=3, connections=1), 0, {1: tmp_path / "absent.sock"}, timeout=0.5)

    parsed = Scrape.parse((await scrape.render()).decode())

    assert parsed.value("gateway_worker_up", worker="1") == 0
    assert parsed.value("gateway_worker_up", worker="0") == 1
    assert parsed.value("gateway_messages_sent_total") == 3


async def test_an_answer_that_is_not_families_counts_as_no_answer(tmp_path: Path) -> None:
    path = tmp_path / "liar.sock"

    async def lie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'{"not": "families"}')
        writer.close()

    server = await asyncio.start_unix_server(lie, path=path)
    try:
        parsed = Scrape.parse((await WorkersScrape(busy(1, 0), 0, {1: path}).render()).decode())
    finally:
        server.close()

    assert parsed.value("gateway_worker_up", worker="1") == 0


def test_families_survive_the_trip_between_workers() -> None:
    metrics = busy(sent=7, connections=2)
    metrics.connected("story", 0.003)

    families = decode_families(encode_families(metrics.registry.collect()))

    by_name = {family.name: family for family in families}
    assert {s.value for s in by_name["gateway_messages_sent"].samples} == {7.0}
    assert by_name["gateway_connect_seconds"].type == "histogram"
    histogram = by_name["gateway_connect_seconds"].samples
    assert [s.value for s in histogram if s.labels.get("le") == "+Inf"] == [1]
    with pytest.raises(ValueError, match="families"):
        decode_families(b"[1, 2]")
