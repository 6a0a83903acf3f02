"""Pipelined HTTP requests against the real `serve`: a client that sends many requests on one
keep-alive connection without reading the answers gets at most MAX_PIPELINED + 1 answers, in
order, and is closed; the server's memory stays flat, and its log has no ERROR."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from entrypoints.http_protocol import MAX_PIPELINED
from testkit.processes import rss_bytes
from testkit.sockets import closed_by_server
from testkit.waiting import timeout
from tests.integration.conftest import StartGateway

logger = logging.getLogger(__name__)

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
WITH_BODY = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"
FLOOD_BYTES = 30 * 2**20


async def test_many_pipelined_requests_get_a_bounded_number_of_answers_then_a_close(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(HEALTH * 200)

    answered = await closed_by_server(reader, 5)
    writer.close()

    statuses = answered.count(b"HTTP/1.1 ")
    assert 1 <= statuses <= MAX_PIPELINED + 1, statuses
    assert answered.count(b"HTTP/1.1 200 OK\r\n") == statuses
    assert " ERROR " not in gateway.log()


async def test_a_refusal_behind_a_pipelined_request_comes_after_its_answer(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(HEALTH * 3 + WITH_BODY + HEALTH)

    answered = await closed_by_server(reader, 5)
    writer.close()

    assert re.findall(rb"HTTP/1\.1 (\d{3})", answered) == [b"200", b"200", b"200", b"413"]
    assert "write_eof" not in gateway.log()
    assert " ERROR " not in gateway.log()


async def flood(writer: asyncio.StreamWriter, total: int) -> int:
    """Write pipelined requests, never reading, until `total` bytes or the server lets go."""
    block, sent = HEALTH * 1000, 0
    with contextlib.suppress(ConnectionError):
        while sent < total:
            writer.write(block)
            await writer.drain()
            sent += len(block)
    return sent


async def test_a_pipelined_flood_that_never_reads_costs_little_memory_and_ends(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)  # warm-up: what any first
    writer.write(HEALTH)  # connection allocates
    await reader.readline()
    writer.close()
    before = rss_bytes(gateway.pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)

    async with asyncio.timeout(timeout(10)):
        sent = await flood(writer, FLOOD_BYTES)
    growth = rss_bytes(gateway.pid) - before
    answered = await closed_by_server(reader, 5)
    writer.close()

    logger.info("pipelined flood: %d bytes sent, RSS +%.1f MB", sent, growth / 2**20)
    assert answered.count(b"HTTP/1.1 ") <= MAX_PIPELINED + 2  # the answers due, then a refusal, then EOF
    assert growth <= 16 * 2**20
    assert " ERROR " not in gateway.log()
