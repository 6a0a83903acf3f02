"""The HTTP layer of the real `serve`: request heads have a deadline, oversized heads get 414 or 431 at
once, and upgrades beyond MAX_CONNECTIONS get 503, while well-behaved clients are served throughout."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from testkit.clients import http_text
from testkit.sockets import answer_to, closed_by_server, upgrade_head
from testkit.waiting import timeout
from tests.integration.conftest import NewStory, OwnedStory, StartGateway

SILENT = 1000
WORKING = 20


async def pong(connection: ClientConnection) -> None:
    await connection.send("ping")
    async with asyncio.timeout(timeout(5)):
        while await connection.recv() != "pong":
            pass


async def working_client(url: str, served: list[float]) -> None:
    async with connect(url) as connection:
        await pong(connection)
        served.append(time.monotonic())


async def test_silent_and_slow_heads_are_closed_at_the_deadline_while_clients_are_served(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(HANDSHAKE_TIMEOUT_SECONDS="1")
    story = await new_story()
    opened = time.monotonic()
    silent = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(SILENT)]
    half_reader, half_writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    half_writer.write(b"GET /ws/user/stories HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    drip_reader, drip_writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    drip_writer.write(b"GET /healthz HTTP/1.1\r\n")

    async def drip() -> None:
        for n in range(40):  # one header line every 0.1 s: the head never completes
            drip_writer.write(f"X-Drip-{n}: 1\r\n".encode())
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    served: list[float] = []
    await asyncio.gather(*(working_client(gateway.ws + story.path(), served) for _ in range(WORKING)))
    status, _ = await http_text(gateway.http + "/healthz")
    assert (len(served), status) == (WORKING, 200)

    answers = await asyncio.gather(
        *(closed_by_server(reader, 10) for reader, _ in silent),
        closed_by_server(half_reader, 10),
        closed_by_server(drip_reader, 10),
    )
    closed_after = time.monotonic() - opened
    dripping.cancel()
    for _, writer in [*silent, (None, half_writer), (None, drip_writer)]:
        writer.close()

    assert answers == [b""] * (SILENT + 2)  # closed without an answer, by the deadline
    assert closed_after < timeout(8)
    async with connect(gateway.ws + story.path()) as late:  # established sockets have no deadline
        await asyncio.sleep(1.5)  # longer than HANDSHAKE_TIMEOUT_SECONDS: the open socket must stay
        await pong(late)


async def test_a_connection_is_not_closed_before_its_deadline(start_gateway: StartGateway) -> None:
    gateway = start_gateway(HANDSHAKE_TIMEOUT_SECONDS="1")
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    started = time.monotonic()

    assert await closed_by_server(reader, 5) == b""

    writer.close()
    assert 0.9 <= time.monotonic() - started < timeout(3)


async def test_an_oversized_url_gets_414_at_once(start_gateway: StartGateway, new_story: NewStory) -> None:
    gateway = start_gateway()
    story = await new_story()
    started = time.monotonic()

    answer = await answer_to(
        gateway.port, upgrade_head(f"/ws/user/stories?token={story.token}&x={'a' * 10_000}")
    )

    assert answer.startswith(b"HTTP/1.1 414 Request-URI Too Long\r\n"), answer[:80]
    assert time.monotonic() - started < timeout(2)


@pytest.mark.parametrize(
    ("size", "chunk"),
    [(10_000, 0), (200_000, 0), (100_000, 1000)],
    ids=["one-10KB-header", "a-200KB-header", "a-100KB-header-in-1KB-writes"],
)
async def test_an_oversized_header_gets_431_at_once(
    start_gateway: StartGateway, new_story: NewStory, size: int, chunk: int
) -> None:
    gateway = start_gateway()
    story = await new_story()
    head = upgrade_head("/ws/user/stories", f"Sec-WebSocket-Protocol: bearer, {story.token}{'a' * size}")
    started = time.monotonic()

    answer = await answer_to(gateway.port, head, chunk=chunk)

    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:80]
    assert time.monotonic() - started < timeout(2)


async def test_beyond_max_connections_an_upgrade_gets_503_and_the_open_ones_go_on(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(MAX_CONNECTIONS="20")
    story: OwnedStory = await new_story()
    connections = [await connect(gateway.ws + story.path()) for _ in range(20)]
    try:
        with pytest.raises(InvalidStatus) as refused:
            await connect(gateway.ws + story.path())
        assert refused.value.response.status_code == 503
        assert (await http_text(gateway.http + "/healthz"))[0] == 200  # plain requests still served
        await asyncio.gather(*(pong(c) for c in connections))

        await connections.pop().close()
        async with connect(gateway.ws + story.path()) as again:  # room again once one is gone
            await pong(again)
    finally:
        await asyncio.gather(*(c.close() for c in connections))


BODIES = {
    "content-length": b"Content-Length: 1000000000\r\n\r\nx",
    "chunked": b"Transfer-Encoding: chunked\r\n\r\n1\r\nx",
}


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
async def test_a_request_that_announces_a_body_gets_413_at_once(
    start_gateway: StartGateway, body: bytes
) -> None:
    gateway = start_gateway()
    started = time.monotonic()

    answer = await answer_to(gateway.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + body)

    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), answer[:80]
    assert time.monotonic() - started < timeout(3)  # answered at once, closed after the linger


async def test_an_empty_body_is_no_body(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    answer = await answer_to(
        gateway.port,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:80]


async def test_slow_bodies_hold_no_slot_of_max_connections(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    """Six sockets announce a body of 1 GB, send a byte and go silent, on a server that holds five:
    each gets 413 at once, and a valid upgrade right after them is served."""
    gateway = start_gateway(MAX_CONNECTIONS="5")
    story = await new_story()
    slow = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(6)]
    for _, writer in slow:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + BODIES["content-length"])
    try:
        heads = [await asyncio.wait_for(reader.readline(), timeout(2)) for reader, _ in slow]
        async with connect(gateway.ws + story.path()) as upgraded:
            await pong(upgraded)
        ends = await asyncio.gather(*(closed_by_server(reader, 5) for reader, _ in slow))
    finally:
        for _, writer in slow:
            writer.close()

    assert heads == [b"HTTP/1.1 413 Request Entity Too Large\r\n"] * 6
    assert all(end.endswith(b"Request Entity Too Large\n") for end in ends)


async def test_bytes_dripped_after_a_request_do_not_hold_a_kept_alive_connection(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway(HANDSHAKE_TIMEOUT_SECONDS="1")
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert await asyncio.wait_for(reader.readline(), timeout(2)) == b"HTTP/1.1 200 OK\r\n"
    started = time.monotonic()

    async def drip() -> None:
        for _ in range(100):  # an empty line every 0.2 s: no request ever begins
            writer.write(b"\r\n")
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        await closed_by_server(reader, 10)
    finally:
        dripping.cancel()
        writer.close()

    assert time.monotonic() - started < timeout(2.5)


async def test_an_idle_kept_alive_connection_is_closed_by_the_keep_alive_timeout(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    assert await asyncio.wait_for(reader.readline(), timeout(2)) == b"HTTP/1.1 200 OK\r\n"
    started = time.monotonic()
    try:
        await closed_by_server(reader, 15)
    finally:
        writer.close()

    assert 4.5 < time.monotonic() - started < timeout(7)  # uvicorn's timeout_keep_alive: 5 s
