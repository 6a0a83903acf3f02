"""The uvicorn subclasses are load-bearing: an upgrade that changes an internal they use must fail
here, naming it, rather than in production. `GatewayWebSocketProtocol` (over `StallWatchProtocol`
and `ClosingProtocol`) and `GatewayServer`; the HTTP protocol has `test_http_protocol_internals.py`."""

from __future__ import annotations

import asyncio
import inspect
import signal
import struct

import pytest
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from entrypoints.client_socket import framed_text
from entrypoints.closing import ClosingProtocol
from entrypoints.server import GatewayServer
from entrypoints.stalls import StallWatchProtocol
from entrypoints.uvicorn_protocol import GatewayWebSocketProtocol

INSTANCE_ATTRIBUTES = [
    "conn",
    "transport",
    "loop",
    "queue",
    "writable",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "initial_response",
    "close_timer",
    "read_paused",
    "frames",
    "curr_msg_data_type",
    "pending_ping_payload",
    "ping_sent_at",
]
OVERRIDDEN = {  # each with the reason in its docstring, and the upstream change that would retire it
    "connection_made",
    "run_asgi",
    "data_received",
    "send_receive_event_to_app",
    "receive",
    "handle_ping",
    "handle_pong",
    "pause_writing",
    "resume_writing",
    "send",
    "start_keepalive",
    "handle_close",
    "handle_parser_exception",
}
CALLED_FROM = {  # uvicorn's method -> the names its source must still mention
    "handle_connect": ["self.scope", '"extensions"', "self.run_asgi()"],
    "run_asgi": ["self.app(self.scope"],
    "handle_events": ["self.handle_ping()", "self.handle_pong(event)", "self.handle_close(event)"],
    "data_received": ["self.conn.parser_exc", "self.handle_parser_exception()"],
    "handle_text": ["self.frames", "self.send_receive_event_to_app()"],
    "handle_cont": ["self.frames.append", "self.send_receive_event_to_app()"],
    "handle_close": ["self.close_timer", "self.transport.close()"],
    "send": ["self.start_keepalive()", "await self.writable.wait()"],
    "connection_lost": ["self.close_timer", "self.writable.set()"],
}
SERVER_METHODS = ["handle_exit", "shutdown", "capture_signals", "run"]


@pytest.fixture
async def protocol() -> WebSocketsSansIOProtocol:
    config = Config(app=lambda scope, receive, send: None, ws_per_message_deflate=False)
    config.load()
    return WebSocketsSansIOProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())


@pytest.mark.parametrize("name", INSTANCE_ATTRIBUTES)
def test_the_protocol_still_has_the_attribute_the_subclass_uses(
    protocol: WebSocketsSansIOProtocol, name: str
) -> None:
    assert hasattr(protocol, name), f"uvicorn's WebSocketsSansIOProtocol no longer has `{name}`"


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_override_still_overrides_a_method_with_its_signature(name: str) -> None:
    original = getattr(WebSocketsSansIOProtocol, name, None)
    assert callable(original), f"uvicorn's WebSocketsSansIOProtocol no longer has `{name}`"
    ours = getattr(GatewayWebSocketProtocol, name)
    assert list(inspect.signature(original).parameters) == list(inspect.signature(ours).parameters)


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_override_says_why_and_what_upstream_change_would_retire_it(name: str) -> None:
    doc = inspect.getdoc(getattr(GatewayWebSocketProtocol, name)) or ""
    assert "uvicorn" in doc, f"{name} does not say what uvicorn does: {doc!r}"
    assert "upstream" in doc, f"{name} does not say what upstream change would retire it: {doc!r}"


@pytest.mark.parametrize(("method", "names"), sorted(CALLED_FROM.items()))
def test_uvicorn_still_calls_what_the_subclass_hooks_into(method: str, names: list[str]) -> None:
    source = inspect.getsource(getattr(WebSocketsSansIOProtocol, method))
    for name in names:
        assert name in source, f"WebSocketsSansIOProtocol.{method} no longer uses `{name}`"


def test_the_subclasses_add_nothing_that_shadows_uvicorn() -> None:
    ours = {
        name
        for cls in (ClosingProtocol, StallWatchProtocol, GatewayWebSocketProtocol)
        for name in vars(cls)
        if not name.startswith("__")
    }
    shadowing = {name for name in ours - OVERRIDDEN if hasattr(WebSocketsSansIOProtocol, name)}
    assert shadowing == set(), shadowing
    instance_state = set(WebSocketsSansIOProtocol.__init__.__code__.co_names)
    assert ours & instance_state <= OVERRIDDEN, ours & instance_state


def test_the_websockets_protocol_is_open_without_extensions_after_the_handshake() -> None:
    """What the direct writer checks before it writes pre-framed bytes: websockets' state is OPEN
    and no extension (permessage-deflate) changes the framing."""
    assert "ServerProtocol" in WebSocketsSansIOProtocol.__init__.__code__.co_names
    conn = ServerProtocol()
    conn.receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    [event] = conn.events_received()
    assert isinstance(event, Request)
    conn.send_response(conn.accept(event))
    assert conn.state is State.OPEN
    assert conn.extensions == []  # offered, but the server negotiates none: deflate is off


def test_the_frames_written_by_hand_are_the_ones_websockets_makes() -> None:
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = b"x" * size
        assert framed_text(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[]), size
    payload = struct.pack("!I", 0xDEADBEEF)
    assert b"\x89\x04" + payload == Frame(Opcode.PING, payload).serialize(mask=False, extensions=[])
    pong = Frame(Opcode.PONG, b"p" * 125).serialize(mask=False, extensions=[])
    assert pong[:1] == b"\x8a"  # how `handle_ping` tells pongs from the other writes


@pytest.mark.parametrize("name", SERVER_METHODS)
def test_the_server_still_has_the_method_gateway_server_overrides_or_calls(name: str) -> None:
    assert callable(getattr(uvicorn.Server, name, None)), f"uvicorn.Server.{name} is gone"
    ours = getattr(GatewayServer, name)
    original = getattr(uvicorn.Server, name)
    assert list(inspect.signature(original).parameters) == list(inspect.signature(ours).parameters)


def test_the_server_re_raises_the_signals_gateway_server_clears() -> None:
    """`GatewayServer.handle_exit` clears `_captured_signals` so that a graceful stop exits 0;
    uvicorn re-raises whatever that list holds when `capture_signals` ends."""
    server = uvicorn.Server(Config(app=lambda scope, receive, send: None))
    assert server._captured_signals == []
    assert "self._captured_signals" in inspect.getsource(uvicorn.Server.capture_signals)
    assert "raise_signal" in inspect.getsource(uvicorn.Server.capture_signals)
    server.handle_exit(signal.SIGTERM, None)
    assert server._captured_signals == [signal.SIGTERM]
    assert server.should_exit


def test_the_server_state_gateway_server_polls_on_shutdown() -> None:
    server = uvicorn.Server(Config(app=lambda scope, receive, send: None))
    assert isinstance(server.server_state.connections, set)
    assert "self.servers" in inspect.getsource(uvicorn.Server.shutdown)
    assert "self.servers" in inspect.getsource(uvicorn.Server.startup)
