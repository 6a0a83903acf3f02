"""The WebSocket protocol class `serve` runs, in this process on real loopback sockets, so that the
test can watch what it reads, buffers and schedules: while the peer is behind nothing is read from
it, and once it catches up its pings get one pong, the latest; an idle socket costs the wheel
nothing; a written one is pinged, and closed with 4008 if it never answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from domain.errors import Closure
from entrypoints.client_socket import framed_text
from entrypoints.settings import Settings
from entrypoints.transport import TRANSPORT, DirectTransport
from entrypoints.uvicorn_protocol import GatewayWebSocketProtocol, websocket_protocol
from testkit.waiting import timeout, wait_for_condition
from testkit.wsframes import CLOSE, PING, PONG, TEXT, RawWebSocket, masked

FRAME = framed_text(b"x" * 1000)
SLOW_CLIENT_SECONDS = 1.0
Writer = Callable[[DirectTransport], None]


@dataclass
class Served:
    protocol: GatewayWebSocketProtocol
    client: RawWebSocket


Serve = Callable[[Writer], Awaitable[Served]]


def fill(transport: DirectTransport) -> None:
    """Write through the seam until it refuses: the peer is behind."""
    while transport.write_now(FRAME):
        pass


def one_frame(transport: DirectTransport) -> None:
    assert transport.write_now(FRAME)


def nothing(transport: DirectTransport) -> None:
    return None


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve one connection with an app that accepts, writes with `writer`, then reads to the end;
    returns once the app has written."""
    opened: list[Served] = []

    async def start(writer: Writer) -> Served:
        written = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            writer(scope["extensions"][TRANSPORT])
            written.set()
            while (await receive())["type"] != "websocket.disconnect":
                pass

        config = Config(app=app, ws_per_message_deflate=False, lifespan="off")
        config.load()
        settings = Settings(jwt_key="x" * 32, slow_client_seconds=SLOW_CLIENT_SECONDS)
        protocol = websocket_protocol(settings)(config=config, server_state=ServerState(), app_state={})
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.setblocking(False)
            opening = asyncio.create_task(RawWebSocket.open(listener.getsockname()[1], "/", rcvbuf=4096))
            accepted, _ = await loop.sock_accept(listener)
        await loop.connect_accepted_socket(lambda: protocol, accepted)
        served = Served(protocol, await asyncio.wait_for(opening, timeout(5)))
        opened.append(served)
        await asyncio.wait_for(written.wait(), timeout(5))
        return served

    yield start
    for served in opened:
        served.client.close()
        served.protocol.transport.abort()


async def test_nothing_is_read_from_a_peer_that_is_behind_and_its_pings_get_one_pong(serve: Serve) -> None:
    served = await serve(fill)
    protocol = served.protocol
    assert not protocol.writable.is_set()
    assert not protocol.transport.is_reading()  # paused with writing: its pings wait in the kernel

    await served.client.send(b"".join(masked(PING, b"%02d" % n) for n in range(30)))
    frames: list[tuple[int, bytes]] = []
    async with asyncio.timeout(timeout(5)):
        while not frames or frames[-1][0] != PONG:  # read what was written, up to the pong
            frames.append(await served.client.frame())
    await served.client.send(masked(CLOSE, b"\x03\xe8"))  # its echo: the server reads again
    async with asyncio.timeout(timeout(5)):
        while frames[-1][0] != CLOSE:
            frames.append(await served.client.frame())

    pongs = [payload for opcode, payload in frames if opcode == PONG]
    assert pongs == [b"29"]  # 30 pings read at once: the latest answered (RFC 6455 5.5.3)
    assert {opcode for opcode, _ in frames} == {TEXT, PONG, CLOSE}
    assert all(payload == FRAME[4:] for opcode, payload in frames if opcode == TEXT)


async def test_an_idle_socket_costs_the_wheel_nothing(serve: Serve) -> None:
    served = await serve(nothing)

    assert len(served.protocol.wheel) == 0  # no timer, no ping: nothing was written
    assert served.protocol.pending_ping_payload is None


async def test_a_written_socket_is_pinged_once_then_left_alone_when_it_answers(serve: Serve) -> None:
    served = await serve(one_frame)
    wheel = served.protocol.wheel
    assert len(wheel) == 1

    assert await asyncio.wait_for(served.client.frame(), timeout(2)) == (TEXT, FRAME[4:])
    opcode, payload = await asyncio.wait_for(served.client.frame(), timeout(3))
    assert opcode == PING
    await served.client.send(masked(PONG, payload))

    async def left_alone() -> bool:
        return not len(wheel) and served.protocol.pending_ping_payload is None

    await wait_for_condition(left_alone, 3, "the wheel to let the socket go")
    assert served.protocol.closure is None


async def test_a_reader_that_never_answers_the_ping_is_closed_4008(serve: Serve) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    served = await serve(one_frame)

    frames = [await asyncio.wait_for(served.client.frame(), timeout(2)) for _ in range(2)]
    code, reason = await asyncio.wait_for(served.client.close_frame(), timeout(5))  # never answering

    assert [opcode for opcode, _ in frames] == [TEXT, PING]
    assert (code, reason) == (4008, "slow_client")
    assert SLOW_CLIENT_SECONDS <= loop.time() - started < timeout(SLOW_CLIENT_SECONDS + 2.5)
    assert served.protocol.closure is Closure.SLOW_CLIENT
