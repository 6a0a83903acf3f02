"""The uvicorn subclass is load-bearing: an upgrade that changes an internal it uses must fail here,
naming the attribute, rather than in production."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from entrypoints.client_socket import framed_text
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
    "close_timeout",
    "close_timer",
    "ping_timer",
    "pending_ping_payload",
    "pong_timer",
]
METHODS = [
    "connection_made",
    "handle_connect",
    "send",
    "schedule_ping",
    "keepalive_timeout",
    "handle_parser_exception",
    "pause_writing",
    "resume_writing",
]


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


@pytest.mark.parametrize("name", METHODS)
def test_the_protocol_still_has_the_method_the_subclass_overrides_or_calls(name: str) -> None:
    assert callable(getattr(WebSocketsSansIOProtocol, name, None)), (
        f"uvicorn's WebSocketsSansIOProtocol no longer has the method `{name}`"
    )


def test_the_scope_is_built_in_handle_connect_with_an_extensions_dict() -> None:
    source = inspect.getsource(WebSocketsSansIOProtocol.handle_connect)
    assert "self.scope" in source, "handle_connect no longer builds `self.scope`"
    assert '"extensions"' in source, "the scope built by handle_connect no longer has `extensions`"


def test_the_websockets_state_and_serialization_the_direct_writer_relies_on() -> None:
    protocol_state = WebSocketsSansIOProtocol.__init__.__code__.co_names
    assert "ServerProtocol" in protocol_state, "uvicorn no longer builds a websockets ServerProtocol"
    assert State.OPEN.name == "OPEN"
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = b"x" * size
        assert framed_text(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[]), size


def test_the_subclass_only_overrides_what_it_means_to() -> None:
    overridden = {name for name in vars(GatewayWebSocketProtocol) if not name.startswith("__")}
    assert overridden <= {*METHODS, "write_frame", "_close_now", "_open_but_blocked"}, overridden
