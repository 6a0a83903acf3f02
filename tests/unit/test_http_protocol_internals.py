"""What `entrypoints/http_protocol.py` relies on in uvicorn's httptools protocol: if an upgrade of
uvicorn renames or drops one of these, this test names it, before the hardening silently stops."""

from __future__ import annotations

import inspect

import pytest
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from entrypoints.http_protocol import GatewayHttpProtocol, http_protocol
from entrypoints.settings import Settings

OVERRIDDEN = [
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
    "handle_websocket_upgrade",
    "on_response_complete",
    "pause_writing",
    "resume_writing",
    "send_400_response",
]
INSTANCE_STATE = ["loop", "transport", "connections", "parser", "url", "headers", "pipeline", "cycle", "flow"]
CALLED = ["_unset_keepalive_if_required"]  # uvicorn's own, called but not overridden


async def noop_app(scope: object, receive: object, send: object) -> None:
    """An ASGI app that does nothing: the protocol only needs one to exist."""


def test_uvicorn_uses_httptools_here() -> None:
    assert AutoHTTPProtocol is HttpToolsProtocol, "uvicorn's auto HTTP protocol is no longer httptools"
    assert uvicorn.__version__.startswith("0.54"), f"uvicorn {uvicorn.__version__}: re-check these internals"


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_each_overridden_method_still_exists_with_its_signature(name: str) -> None:
    original = getattr(HttpToolsProtocol, name, None)
    assert callable(original), f"HttpToolsProtocol.{name} is gone"
    ours = getattr(GatewayHttpProtocol, name)
    assert list(inspect.signature(original).parameters) == list(inspect.signature(ours).parameters), (
        f"HttpToolsProtocol.{name} changed its parameters"
    )


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_each_override_says_why_and_what_upstream_change_would_retire_it(name: str) -> None:
    doc = inspect.getdoc(getattr(GatewayHttpProtocol, name)) or ""
    assert "uvicorn" in doc, f"{name} does not say what uvicorn does: {doc!r}"
    assert "upstream" in doc, f"{name} does not say what upstream change would retire it: {doc!r}"


@pytest.mark.parametrize("name", CALLED)
def test_each_called_private_method_still_exists(name: str) -> None:
    assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} is gone"


def test_the_subclass_overrides_only_what_the_list_names() -> None:
    ours = {name for name in vars(GatewayHttpProtocol) if not name.startswith("__")}
    assert {name for name in ours if hasattr(HttpToolsProtocol, name)} == set(OVERRIDDEN)


async def test_the_instance_state_it_reads_still_exists() -> None:
    protocol = HttpToolsProtocol(Config(app=noop_app), ServerState(), {})
    protocol.on_message_begin()  # sets url and headers, as the parser does for each request

    for name in INSTANCE_STATE:
        assert hasattr(protocol, name), f"HttpToolsProtocol instances no longer have .{name}"
    assert isinstance(protocol.connections, set), "server_state.connections is no longer a set"
    assert hasattr(protocol.parser, "should_upgrade"), "the httptools parser has no should_upgrade()"


def test_the_configured_class_takes_the_settings() -> None:
    configured = http_protocol(Settings(jwt_key="x" * 32, handshake_timeout_seconds=1.5, max_connections=7))

    assert issubclass(configured, HttpToolsProtocol)
    assert (configured.head_timeout, configured.max_connections) == (1.5, 7)
