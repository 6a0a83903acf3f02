"""Property: whatever a client sends, a session answers by the protocol and ends only as documented."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory import MemoryMetrics, MemorySocket
from domain.connection.session import SessionLimits
from domain.errors import Closure
from testkit.waiting import timeout
from tests.unit.conftest import memory_container, started

LIMITS = SessionLimits(keepalive_seconds=60, slow_client_seconds=5, max_frame_bytes=64, flood_burst=1000)
COMMANDS = st.sampled_from(["ping", "pong", "status", "auth ", "auth garbage", "", " ping", "PING"])
MESSAGES = st.one_of(COMMANDS, st.text(max_size=80), st.binary(max_size=8))


async def serve(messages: list[str | bytes]) -> tuple[MemorySocket, MemoryMetrics]:
    container = memory_container(limits=LIMITS)
    _, gateway = await started(container)
    tokens, metrics = container.tokens(), container.metrics()
    story, user = uuid.uuid4(), uuid.uuid4()
    container.directory().add(story, user)
    socket = MemorySocket()
    for message in messages:
        socket.say(message)
    socket.leave()
    try:
        async with asyncio.timeout(timeout(5)):
            await gateway.story(socket, tokens.issue(user), str(story))
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
    return socket, metrics


def expected_end(messages: list[str | bytes]) -> Closure | None:
    """The first message that ends a session by the protocol decides how it ends."""
    for message in messages:
        if isinstance(message, bytes):
            return Closure.BINARY
        if len(message.encode(errors="surrogatepass")) > LIMITS.max_frame_bytes:
            return Closure.TOO_BIG
        if message.startswith("auth "):
            return Closure.INVALID_TOKEN
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MESSAGES, max_size=12))
def test_any_client_messages_get_protocol_answers_and_a_documented_end(messages: list[str | bytes]) -> None:
    socket, metrics = asyncio.run(serve(messages))

    end = expected_end(messages)
    assert socket.closed is end
    assert metrics.counts[f"closed:{end.value if end else 'client_closed'}"] == 1
    answered = messages[: next((i for i, m in enumerate(messages) if expected_end([m])), len(messages))]
    if end is None:  # the client left on its own: every ping was answered before
        assert socket.sent.count("pong") == answered.count("ping")
    else:  # replies still queued when a violation ends the session may go unsent
        assert socket.sent.count("pong") <= answered.count("ping")
    assert all(text in ("pong", "auth ok") or text.startswith("{") for text in socket.sent)
