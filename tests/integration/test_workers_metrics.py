"""`serve --workers 2` against the real server: whichever worker the kernel hands a scrape to, it
answers for both, every sample labelled with its worker, the per-update counters included."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.clients import clients_on_workers
from testkit.metrics import Scrape
from testkit.processes import GatewayProcess
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import TwoWorkers

logger = logging.getLogger(__name__)
MAX_SCRAPES = 40  # enough for the kernel's SO_REUSEPORT hash to hand scrapes to both workers


async def scrape_and_answerer(gateway: GatewayProcess) -> tuple[Scrape, int]:
    """One `/metrics` on a connection of its own, and the pid of the worker that answered it (the
    connection stays open until its worker is found in /proc)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n")
        async with asyncio.timeout(timeout(5)):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
        answerer = gateway.worker_serving(writer.get_extra_info("sockname")[1])
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    return Scrape.parse(body.decode()), answerer


async def test_a_scrape_sees_every_worker_whichever_answers(
    two_workers: TwoWorkers, redis_publisher: RedisProgressPublisher
) -> None:
    gateway, story, workers = two_workers.gateway, two_workers.story, two_workers.workers
    async with AsyncExitStack() as stack:
        clients = await clients_on_workers(stack, gateway, story.path(), workers, each=2)
        await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 20))
        for client in clients:
            await client.progress.read_seq(2)
        held = sorted(sum(c.worker == worker for c in clients) for worker in workers)
        answered: dict[int, list[Scrape]] = {}
        while len(answered) < 2:
            if sum(map(len, answered.values())) == MAX_SCRAPES:
                pytest.fail(f"{MAX_SCRAPES} scrapes and all answered by {list(answered)}")
            scrape, answerer = await scrape_and_answerer(gateway)
            answered.setdefault(answerer, []).append(scrape)

    for scrapes in answered.values():
        for scrape in scrapes:
            assert (
                scrape.value("gateway_worker_up", worker="0")
                == scrape.value("gateway_worker_up", worker="1")
                == 1
            )
            per_worker = sorted(scrape.value("gateway_connections", worker=w) for w in ("0", "1"))
            assert per_worker == held
            assert scrape.value("gateway_messages_sent_total") == 2 * len(clients)  # snapshot and update
            assert scrape.value("gateway_updates_received_total", worker="0") >= 1
            assert scrape.value("gateway_updates_received_total", worker="1") >= 1
            assert len(scrape.samples["process_resident_memory_bytes"]) == 2
    logger.info(
        "scrapes answered by %s; connections per worker %s", {w: len(s) for w, s in answered.items()}, held
    )
