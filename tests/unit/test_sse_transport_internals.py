"""What `entrypoints/sse_transport.py` relies on in uvicorn's httptools protocol and its request cycle:
if an upgrade of uvicorn renames or drops one of these, this test names it. Fed a real request, the
gateway's protocol puts the seam in the scope of SSE requests only, and the seam writes, pauses and
ends the response through those internals."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
from uvicorn.server import ServerState

from domain.errors import Closure
from entrypoints.event_stream import LAST_CHUNK, chunk, close_event
from entrypoints.http_protocol import http_protocol
from entrypoints.settings import Settings
from entrypoints.sse_transport import SseTransport
from entrypoints.transport import TRANSPORT

CYCLE_STATE = ["chunked_encoding", "response_complete", "disconnected", "keep_alive", "message_event"]


class FakeTransport(asyncio.Transport):
    """Enough of asyncio's transport for the protocol: records writes and closes."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = self.aborted = False
        self.limits: dict[str, Any] = {}

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.limits = {"high": high, "low": low}

    def pause_reading(self) -> None:
        """Flow control of reading: nothing to do here."""

    def resume_reading(self) -> None:
        """Flow control of reading: nothing to do here."""


async def noop_app(scope: object, receive: object, send: object) -> None:
    """The app never runs in these tests: the protocol only needs one."""


def protocol_after(request: bytes) -> tuple[Any, FakeTransport]:
    configured = http_protocol(Settings(jwt_key="x" * 32, slow_client_seconds=1.0))
    protocol = configured(Config(app=noop_app), ServerState(), {})
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    return protocol, transport


def test_uvicorn_is_the_version_these_internals_were_read_from() -> None:
    assert uvicorn.__version__.startswith("0.54"), f"uvicorn {uvicorn.__version__}: re-check these internals"


async def test_an_sse_request_gets_the_seam_over_its_cycle_and_others_none() -> None:
    protocol, _ = protocol_after(b"GET /sse/user/stories HTTP/1.1\r\nHost: x\r\n\r\n")
    plain, _ = protocol_after(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    seam = protocol.scope["extensions"][TRANSPORT]
    assert isinstance(seam, SseTransport)
    assert isinstance(protocol.cycle, RequestResponseCycle)
    for name in CYCLE_STATE:
        assert hasattr(protocol.cycle, name), f"RequestResponseCycle no longer has .{name}"
    assert hasattr(protocol.flow, "write_paused"), "uvicorn's FlowControl no longer has .write_paused"
    assert TRANSPORT not in plain.scope.get("extensions", {})
    for task in protocol.tasks | plain.tasks:
        task.cancel()


async def test_the_seam_writes_while_the_peer_keeps_up_and_ends_the_response_past_it() -> None:
    protocol, transport = protocol_after(b"GET /sse/user/stories HTTP/1.1\r\nHost: x\r\n\r\n")
    seam: SseTransport = protocol.scope["extensions"][TRANSPORT]
    cycle = protocol.cycle
    cycle.response_started, cycle.chunked_encoding = True, True  # as uvicorn sets them on the head

    seam.streaming()
    kept_up = seam.write_now(b"3\r\nabc\r\n")
    protocol.pause_writing()
    behind = seam.write_now(b"3\r\ndef\r\n")
    seam.close_now(Closure.SHUTDOWN)
    after = seam.write_now(b"3\r\nghi\r\n")

    assert transport.limits == {"high": 0, "low": None}
    assert (kept_up, behind, after) == (True, False, False)
    assert transport.written[0] == b"3\r\nabc\r\n"
    assert transport.written[-1] == chunk(close_event(Closure.SHUTDOWN)) + LAST_CHUNK
    assert (cycle.response_complete, cycle.keep_alive, cycle.message_event.is_set()) == (True, False, True)
    assert transport.closed
    assert seam.closure is Closure.SHUTDOWN
    for task in protocol.tasks:
        task.cancel()


async def test_a_peer_whose_buffer_does_not_drain_is_ended_with_4008() -> None:
    protocol, transport = protocol_after(b"GET /sse/stories/x/progress HTTP/1.1\r\nHost: x\r\n\r\n")
    seam: SseTransport = protocol.scope["extensions"][TRANSPORT]
    protocol.cycle.response_started, protocol.cycle.chunked_encoding = True, True
    loop = asyncio.get_running_loop()

    protocol.pause_writing()
    early = seam.visit(loop.time())
    protocol.resume_writing()
    drained = seam.visit(loop.time() + 5)
    protocol.pause_writing()
    late = seam.visit(loop.time() + 5)

    assert early is not None, "visited again at its deadline"
    assert early > loop.time()
    assert drained is None, "a buffer that drained holds no deadline"
    assert late is None
    assert seam.closure is Closure.SLOW_CLIENT
    assert b'"code": 4008' in transport.written[-1]
    for task in protocol.tasks:
        task.cancel()
