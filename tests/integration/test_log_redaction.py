"""No token in any line of the real `serve`'s log, at DEBUG (where websockets logs every header and
frame), in either format, whatever spelling the client uses: `?token=`, `?%74oken=`, `?tok%65n=`,
`?TOKEN=`, `bearer ,<JWT>` or the JWT on a header of its own, `auth <JWT>` whole or in fragments,
and a traceback that carries the token."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from testkit.clients import close_code
from testkit.waiting import timeout
from tests.integration.conftest import NewStory, StartGateway

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


async def raw_handshake(port: int, path: str, headers: str, key: str = KEY) -> bytes:
    """An upgrade written by hand, for headers a client library will not send; the response head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n".encode()
        )
        async with asyncio.timeout(timeout(5)):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_spelling_of_a_token_reaches_the_log_at_debug(
    start_gateway: StartGateway, new_story: NewStory, log_format: str
) -> None:
    gateway = start_gateway(LOG_FORMAT=log_format, LOG_LEVEL="DEBUG")
    story = await new_story()
    token, path = story.token, f"/ws/stories/{story.id}/progress"

    async with connect(f"{gateway.ws}{path}?token={token}") as served:
        await served.send(f"auth {token}")
        assert await served.recv() == "auth ok"
        await served.send([f"auth {token[:30]}", token[30:]])  # one message in two fragments
        assert await served.recv() == "auth ok"
    for name in ("%74oken", "tok%65n", "TOKEN"):  # redacted, and they do not authenticate
        async with connect(f"{gateway.ws}{path}?{name}={token}") as refused:
            assert await close_code(refused) == 4001
    for headers in (
        f"Sec-WebSocket-Protocol: bearer ,{token}\r\n",
        f"Sec-WebSocket-Protocol: bearer\r\nSec-WebSocket-Protocol: {token}\r\n",
    ):
        response = await raw_handshake(gateway.port, path, headers)
        assert response.startswith(b"HTTP/1.1 101 "), response
        assert b"\r\nSec-WebSocket-Protocol: bearer\r\n" in response
    refused_key = await raw_handshake(gateway.port, path, "", key=token)  # websockets logs a traceback
    assert refused_key.startswith(b"HTTP/1.1 400 "), refused_key
    assert gateway.stop() == 0

    log = gateway.log()
    signature = token.rsplit(".", 1)[1]
    assert token not in log
    assert [part for part in (signature[:12], signature[-12:], token[30:50]) if part in log] == []
    assert f"{path}?token=[redacted]" in log, "uvicorn's [accepted] line, redacted"
    for name in ("%74oken", "tok%65n", "TOKEN"):
        assert f"{path}?{name}=[redacted]" in log
    assert "< TEXT 'auth [redacted]'" in log
    assert "< CONT [redacted]" in log
    assert "sec-websocket-protocol: bearer ,[redacted]" in log
    assert "sec-websocket-protocol: [redacted]" in log
    assert "invalid Sec-WebSocket-Key header: [redacted]" in log
    if log_format == "json":
        entries = [json.loads(line) for line in log.splitlines()]
        assert any("Traceback" in entry.get("exception", "") for entry in entries)
    else:
        assert "\n  | Traceback (most recent call last):\n" in log
