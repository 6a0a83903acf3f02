"""Slow and stalled clients against the real server, Redis and PostgreSQL.

A client that stops reading must cost the others nothing (latency, memory) and be closed with
4008 after `SLOW_CLIENT_SECONDS`; a client that reads slowly but keeps up gets merged percent
updates, yet every status change and the final state, in `seq` order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.metrics import scrape
from testkit.postgres import Database
from testkit.processes import GatewayProcess, gateway_env, rss_bytes, tcp_sockets
from testkit.waiting import timeout, wait_for_condition
from testkit.wsframes import RawWebSocket

logger = logging.getLogger(__name__)

SECRET = "slow-clients-test-secret-0123456789abcdef"
SLOW_CLIENT_SECONDS = 2.0
STEP_TEXT = "x" * 2000
UPDATES = 300
RATE = 50.0  # updates per second: 300 updates take 6 s
Message = dict[str, Any]


@dataclass(frozen=True)
class Story:
    id: uuid.UUID
    token: str
    gateway: GatewayProcess

    @property
    def path(self) -> str:
        return f"/ws/stories/{self.id}/progress?token={self.token}"

    @property
    def url(self) -> str:
        return self.gateway.ws + self.path


@pytest.fixture
def gateway(redis_url: str, key_prefix: str, database: Database) -> Iterator[GatewayProcess]:
    env = gateway_env(
        redis_url, database.url, SECRET, key_prefix, SLOW_CLIENT_SECONDS=str(SLOW_CLIENT_SECONDS)
    )
    process = GatewayProcess(env).start()
    yield process
    process.stop()


@pytest.fixture
async def publisher(redis_url: str, key_prefix: str) -> AsyncIterator[RedisProgressPublisher]:
    client = Redis.from_url(redis_url)
    yield RedisProgressPublisher(client, JsonCodec(), RedisKeys(key_prefix), ttl_seconds=600)
    keys = [key async for key in client.scan_iter(match=f"{key_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def story(gateway: GatewayProcess, database: Database) -> Story:
    story_id, user_id = uuid.uuid4(), uuid.uuid4()
    await database.insert_story(story_id, user_id)
    return Story(story_id, JwtTokenIssuer(SECRET).issue(user_id, ttl_seconds=600), gateway)


def plan(count: int) -> list[tuple[StoryStatus, int]]:
    """The status changes every 10 updates (those cannot be merged), the percent rises in between."""
    cycle = (StoryStatus.ANALYZING, StoryStatus.GENERATING, StoryStatus.SYNTHESIZING)
    steps = [(cycle[(i // 10) % 3], i * 100 // count) for i in range(count - 1)]
    return [*steps, (StoryStatus.COMPLETE, 100)]


async def publish_steadily(
    publisher: RedisProgressPublisher, story_id: uuid.UUID, steps: list[tuple[StoryStatus, int]]
) -> list[ProgressUpdate]:
    """Publish at `RATE` per second on a fixed schedule, each stamped with its publishing time."""
    loop = asyncio.get_running_loop()
    start, published = loop.time(), []
    for index, (status, percent) in enumerate(steps):
        if (delay := start + index / RATE - loop.time()) > 0:
            await asyncio.sleep(delay)
        update = ProgressUpdate(story_id, status, percent, f"{index:04d} {STEP_TEXT}", datetime.now(UTC))
        published.append(await publisher.publish(update))
    return published


async def publish_initial(publisher: RedisProgressPublisher, story_id: uuid.UUID) -> ProgressUpdate:
    """The snapshot every client gets first: receiving it proves the client is subscribed."""
    update = ProgressUpdate(story_id, StoryStatus.ANALYZING, 0, "queued", datetime.now(UTC))
    return await publisher.publish(update)


def latency(arrived: float, message: Message) -> float:
    return arrived - datetime.fromisoformat(message["updated_at"]).timestamp()


def status_runs(statuses: list[str]) -> list[str]:
    return [status for status, _ in groupby(statuses)]


async def open_client(story: Story, rcvbuf: int | None = None, max_queue: int = 16) -> ClientConnection:
    sock = None
    if rcvbuf is not None:
        sock = small_buffer_socket(rcvbuf)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", story.gateway.port))
    return await connect(story.url, proxy=None, sock=sock, max_queue=max_queue, open_timeout=timeout(10))


async def read_until_complete(ws: ClientConnection, pause: float = 0.0) -> list[tuple[float, Message]]:
    """Every message with its arrival time, up to the terminal update; `pause` makes a slow reader."""
    received: list[tuple[float, Message]] = []
    async for raw in ws:
        received.append((time.time(), json.loads(raw)))
        if received[-1][1]["status"] == StoryStatus.COMPLETE:
            return received
        if pause:
            await asyncio.sleep(pause)
    pytest.fail(f"the connection closed ({ws.close_code}) before the terminal update")


def small_buffer_socket(rcvbuf: int) -> socket.socket:
    """A socket whose tiny receive buffer fills fast once its owner stops reading.

    Its Ethernet-sized MSS matters as much: with loopback's 64 KiB MSS, Linux grows the server's
    send buffer at once to `tcp_wmem`'s maximum (4 MiB), which a real path never gets that fast.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
    sock.setblocking(False)
    return sock


async def first_message(raw: RawWebSocket) -> Message:
    opcode, payload = await raw.frame()
    assert opcode == 0x1, (opcode, payload)
    message: Message = json.loads(payload)
    return message


async def slow_client_closures(gateway: GatewayProcess) -> float:
    scraped = await scrape(gateway.http)
    return scraped.value("gateway_connections_closed_total", endpoint="story", reason="slow_client")


async def wait_for_slow_client_closures(gateway: GatewayProcess, count: float, seconds: float) -> float:
    """Poll the server's metrics until `count` sessions were closed as slow; returns the seconds waited."""

    async def reached() -> bool:
        return await slow_client_closures(gateway) >= count

    return await wait_for_condition(reached, seconds, f"{count} sessions closed as slow clients")


async def sample_peak_rss(gateway: GatewayProcess, stop: asyncio.Event) -> int:
    peak = rss_bytes(gateway.pid)
    while not stop.is_set():
        peak = max(peak, rss_bytes(gateway.pid))
        await asyncio.sleep(0.1)
    return max(peak, rss_bytes(gateway.pid))


async def test_a_stalled_client_costs_normal_clients_nothing(
    story: Story, publisher: RedisProgressPublisher
) -> None:
    await publish_initial(publisher, story.id)
    stalled = await RawWebSocket.open(story.gateway.port, story.path)
    await asyncio.wait_for(first_message(stalled), timeout(10))  # subscribed; it never reads again
    clients = await asyncio.gather(*(open_client(story) for _ in range(50)))
    try:
        for ws in clients:
            await asyncio.wait_for(ws.recv(), timeout(10))  # each one's snapshot
        rss_before, stop = rss_bytes(story.gateway.pid), asyncio.Event()
        sampler = asyncio.create_task(sample_peak_rss(story.gateway, stop))
        readers = [asyncio.create_task(read_until_complete(ws)) for ws in clients]
        published = await publish_steadily(publisher, story.id, plan(UPDATES))
        async with asyncio.timeout(timeout(10)):
            receptions = await asyncio.gather(*readers)
        stop.set()
        peak_growth = await sampler - rss_before
        await wait_for_slow_client_closures(story.gateway, 1, 10)
        slow_closures = await slow_client_closures(story.gateway)
    finally:
        stalled.close()
        await asyncio.gather(*(ws.close() for ws in clients))

    worst = max(latency(arrived, message) for received in receptions for arrived, message in received)
    logger.info("worst latency %.3f s; RSS growth %.1f MB", worst, peak_growth / 2**20)
    assert worst < 1.0
    for received in receptions:
        assert received[-1][1]["seq"] == published[-1].seq
    assert peak_growth < 50 * 2**20
    assert slow_closures == 1  # the stalled client, and none of the 50 others


async def test_b_a_client_that_stops_reading_finds_4008(
    story: Story, publisher: RedisProgressPublisher
) -> None:
    await publish_initial(publisher, story.id)
    paused = await RawWebSocket.open(story.gateway.port, story.path)
    try:
        snapshot = await asyncio.wait_for(first_message(paused), timeout(10))
        stopped_at = time.monotonic()
        flood = asyncio.create_task(publish_steadily(publisher, story.id, plan(UPDATES)))
        await wait_for_slow_client_closures(story.gateway, 1, 15)
        closed_after = time.monotonic() - stopped_at
        flood.cancel()
        frames: list[tuple[int, bytes]] = []
        async with asyncio.timeout(timeout(5)):  # within uvicorn's 10 s before it aborts
            while not frames or frames[-1][0] != 0x8:
                frames.append(await paused.frame())
            await paused.send_close(4008)
            assert await paused.at_eof()
    finally:
        paused.close()

    logger.info("closed as slow %.2f s after it stopped reading", closed_after)
    assert closed_after > SLOW_CLIENT_SECONDS
    code, reason = struct.unpack("!H", frames[-1][1][:2])[0], frames[-1][1][2:].decode()
    assert (code, reason) == (4008, "slow_client")
    seqs = [snapshot["seq"], *(json.loads(payload)["seq"] for op, payload in frames if op == 0x1)]
    assert seqs == sorted(set(seqs))


async def test_c_a_slow_reader_that_keeps_up_gets_every_status_in_order(
    story: Story, publisher: RedisProgressPublisher
) -> None:
    initial = await publish_initial(publisher, story.id)
    ws = await open_client(story, rcvbuf=4096, max_queue=4)
    try:
        async with asyncio.timeout(timeout(5)):
            snapshot = json.loads(await ws.recv())  # the state at connect: publishing starts after it
        reader = asyncio.create_task(read_until_complete(ws, pause=0.05))
        published = [initial, *await publish_steadily(publisher, story.id, plan(UPDATES))]
        async with asyncio.timeout(timeout(15)):
            received = [snapshot, *(message for _, message in await reader)]
        assert ws.close_code is None
    finally:
        await ws.close()

    logger.info("the slow reader got %d of %d updates", len(received), len(published))
    seqs = [message["seq"] for message in received]
    assert seqs == sorted(set(seqs))
    assert received[-1] == json.loads(JsonCodec().encode(published[-1]))
    assert status_runs([m["status"] for m in received]) == status_runs([u.status for u in published])
    assert len(received) < len(published)  # it fell behind far enough that percent updates were merged
    assert await slow_client_closures(story.gateway) == 0


STALLED = 50


async def publish_small_updates(publisher: RedisProgressPublisher, story_id: uuid.UUID) -> None:
    """Four small updates a second, for as long as the test runs: too few bytes to fill a buffer,
    so only the server's pings can tell that a reader stopped."""
    for index in range(10_000):
        update = ProgressUpdate(story_id, StoryStatus.GENERATING, index % 100, "step", datetime.now(UTC))
        await publisher.publish(update)
        await asyncio.sleep(0.25)


async def test_d_every_reader_that_stops_is_closed_by_slow_client_seconds_plus_5_and_finds_4008(
    story: Story, publisher: RedisProgressPublisher
) -> None:
    """50 readers stop reading (half with a 4 KB receive buffer, half with the kernel's default, which
    takes every message without them reading): each is let go by SLOW_CLIENT_SECONDS + 5 s, and
    when it reads again it finds what was sent before, then 4008."""
    await publish_initial(publisher, story.id)
    readers = [
        await RawWebSocket.open(story.gateway.port, story.path, rcvbuf=4096 if n % 2 else None)
        for n in range(STALLED)
    ]
    publishing = asyncio.create_task(publish_small_updates(publisher, story.id))
    try:
        for reader in readers:
            await asyncio.wait_for(reader.frame(), timeout(10))  # the snapshot; then it stops reading
        stopped = time.monotonic()
        held = {reader.local_port for reader in readers}

        async def all_released() -> bool:
            peers = await asyncio.to_thread(tcp_sockets, story.gateway.pid, story.gateway.port)
            return not held & peers.peers

        released_after = await wait_for_condition(
            all_released, SLOW_CLIENT_SECONDS + 10, "every stalled reader"
        )
        closes = [await asyncio.wait_for(reader.close_frame(), timeout(5)) for reader in readers]
    finally:
        publishing.cancel()
        for reader in readers:
            reader.close()

    logger.info("%d stalled readers all let go %.2f s after they stopped", STALLED, released_after)
    assert time.monotonic() - stopped >= SLOW_CLIENT_SECONDS
    assert released_after < SLOW_CLIENT_SECONDS + 5
    assert closes == [(4008, "slow_client")] * STALLED
    assert await slow_client_closures(story.gateway) == STALLED
