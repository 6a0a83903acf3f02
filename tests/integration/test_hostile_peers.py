"""Peers that attack the transport, against the real `serve`: each costs what its send buffer allows
and no more, and is gone in bounded time.

- A ping flood that never reads: reading stops while the peer's send buffer is full, so its pings
  stay in the kernel's buffers instead of becoming pongs in the server's memory.
- After the server's close frame, nothing more is answered, and the connection is gone within 2 s
  if the peer does not answer the close.
- A message left unfinished for `SLOW_CLIENT_SECONDS` gets 1008; invalid UTF-8 gets 1007 and one
  INFO line, no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time

import pytest

from testkit.metrics import scrape
from testkit.processes import GatewayProcess, rss_bytes, tcp_sockets
from testkit.waiting import timeout, wait_for_condition
from testkit.wsframes import CLOSE, PING, TEXT, RawWebSocket, masked, ping_flood
from tests.integration.conftest import NewStory, StartGateway

logger = logging.getLogger(__name__)

FLOOD_BYTES = 40 * 2**20
SLOW_CLIENT_SECONDS = 3.0


def holds(gateway: GatewayProcess, raw: RawWebSocket) -> bool:
    """Whether the server process still holds the client's connection."""
    return raw.local_port in tcp_sockets(gateway.pid, gateway.port).peers


async def until_released(gateway: GatewayProcess, raw: RawWebSocket, seconds: float) -> float:
    """Seconds until the server no longer holds the connection (polled from /proc)."""

    async def released() -> bool:
        return not await asyncio.to_thread(holds, gateway, raw)

    return await wait_for_condition(released, seconds, "the server to let the connection go")


async def flood(raw: RawWebSocket, total: int) -> int:
    """Send `total` bytes of PINGs, never reading; returns the bytes the kernel took before the end."""
    block, blocks = ping_flood(total)
    sent = 0
    with contextlib.suppress(ConnectionError):
        for _ in range(blocks):
            await raw.send(block)
            sent += len(block)
    return sent


async def peak_rss(gateway: GatewayProcess, stop: asyncio.Event) -> int:
    peak = rss_bytes(gateway.pid)
    while not stop.is_set():
        peak = max(peak, rss_bytes(gateway.pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)
    return peak


@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "token"])
async def test_a_ping_flood_that_never_reads_costs_little_memory_and_ends(
    start_gateway: StartGateway, new_story: NewStory, with_token: bool
) -> None:
    gateway = start_gateway(SLOW_CLIENT_SECONDS=str(SLOW_CLIENT_SECONDS))
    story = await new_story()
    path = story.path() if with_token else f"/ws/stories/{story.id}/progress"
    warm = await RawWebSocket.open(gateway.port, path)  # what any first connection allocates
    warm.close()
    before = rss_bytes(gateway.pid)
    raw = await RawWebSocket.open(gateway.port, path)
    stop = asyncio.Event()
    sampler = asyncio.create_task(peak_rss(gateway, stop))
    flooding = asyncio.create_task(flood(raw, FLOOD_BYTES))
    try:
        gone_after = await until_released(gateway, raw, SLOW_CLIENT_SECONDS + 10)
    finally:
        stop.set()
        flooding.cancel()
        raw.close()
    growth = await sampler - before
    sent = await asyncio.gather(flooding, return_exceptions=True)

    logger.info("flood %s: RSS +%.1f MB, gone after %.2f s (%s)", path[:12], growth / 2**20, gone_after, sent)
    assert growth <= 16 * 2**20
    assert gone_after < (timeout(5) if not with_token else timeout(SLOW_CLIENT_SECONDS + 7))


async def test_after_its_close_frame_the_server_answers_nothing_and_lets_go_within_2_s(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    story = await new_story()
    raw = await RawWebSocket.open(gateway.port, f"/ws/stories/{story.id}/progress", rcvbuf=None)
    try:
        assert await asyncio.wait_for(raw.close_frame(), timeout(5)) == (4001, "invalid_token")
        closed_at = time.monotonic()
        await raw.send(masked(PING, b"after-close") + masked(TEXT, b"ping"))
        after = await asyncio.wait_for(raw.until_eof(), timeout(5))  # never answers our close
        released = time.monotonic() - closed_at
    finally:
        raw.close()

    assert after == b""  # no pong, no data
    assert 1.5 < released < timeout(2.5)


async def test_a_message_left_unfinished_is_closed_1008_after_slow_client_seconds(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    """Its first fragment, then only pings answered in time: it still ends with 1008."""
    gateway = start_gateway(SLOW_CLIENT_SECONDS="2")
    story = await new_story()
    raw = await RawWebSocket.open(gateway.port, story.path(), rcvbuf=None)
    try:
        await raw.send(masked(TEXT, b"sta", fin=False))
        started = time.monotonic()
        keepalive = asyncio.create_task(ping_every(raw, 0.5))
        code, reason = await asyncio.wait_for(raw.close_frame(), timeout(8))
        keepalive.cancel()
    finally:
        raw.close()

    assert (code, reason) == (1008, "unfinished_message")
    assert 2.0 <= time.monotonic() - started < timeout(3.5)


async def ping_every(raw: RawWebSocket, seconds: float) -> None:
    with contextlib.suppress(ConnectionError):
        while True:
            await raw.send(masked(PING, b"alive"))
            await asyncio.sleep(seconds)


async def test_invalid_utf8_is_closed_1007_with_one_info_line(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    story = await new_story()
    raw = await RawWebSocket.open(gateway.port, story.path(), rcvbuf=None)
    try:
        await raw.send(masked(TEXT, b"ping"))
        assert await asyncio.wait_for(raw.frame(), timeout(5)) == (TEXT, b"pong")  # the session reads
        await raw.send(masked(TEXT, b"\xff\xfe status"))
        code, reason = await asyncio.wait_for(raw.close_frame(), timeout(5))
    finally:
        raw.close()
    metrics = await scrape(gateway.http)
    log = gateway.log()

    assert (code, reason) == (1007, "invalid_utf8")
    assert metrics.value("gateway_connections_closed_total", reason="invalid_utf8") == 1
    lines = [line for line in log.splitlines() if "1007" in line or "UTF-8" in line]
    assert len(lines) == 1, lines
    assert " INFO " in lines[0], lines
    assert "ERROR" not in log
    assert "Traceback" not in log


async def test_a_client_that_closes_with_4008_itself_is_not_counted_as_slow(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    story = await new_story()
    raw = await RawWebSocket.open(gateway.port, story.path(), rcvbuf=None)
    try:
        await raw.send(masked(TEXT, b"ping"))
        assert await asyncio.wait_for(raw.frame(), timeout(5)) == (TEXT, b"pong")
        await raw.send(masked(CLOSE, struct.pack("!H", 4008) + b"slow_client"))
        assert (await asyncio.wait_for(raw.frame(), timeout(5)))[0] == CLOSE  # the echo
    finally:
        raw.close()

    async def counted() -> bool:
        return (await scrape(gateway.http)).value("gateway_connections_closed_total") >= 1

    await wait_for_condition(counted, 5, "the connection to be counted")
    metrics = await scrape(gateway.http)
    assert metrics.value("gateway_connections_closed_total", reason="client_closed") == 1
    assert metrics.value("gateway_connections_closed_total", reason="slow_client") == 0
