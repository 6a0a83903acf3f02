"""What the gateway counts and logs per connection, over the fakes: connect time, messages sent and
written, closes by code, authentication failures by reason, and the connection fields of its lines."""

from __future__ import annotations

import logging

import pytest

from domain.connection.log_context import CONNECTION
from domain.errors import Closure
from testkit.waiting import timeout
from tests.unit.conftest import Rig, eventually


async def test_a_served_connection_counts_connect_sends_writes_and_its_close_code(rig: Rig) -> None:
    await rig.publish(percent=5)
    socket = rig.open_story()
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    await rig.publish(percent=15)
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))
    socket.leave()
    await rig.ended(socket)

    counts = rig.metrics.counts
    assert (counts["connected:story"], counts["sent:story"], counts["written"]) == (1, 2, 1)  # live only
    assert counts["close_code:1006"] == 1  # the fake client leaves without a close frame


async def test_a_client_that_closes_with_4008_itself_counts_as_a_client_close(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    socket.leave(code=4008)
    await rig.ended(socket)

    counts = rig.metrics.counts
    assert (counts["closed:client_closed"], counts["closed:slow_client"]) == (1, 0)
    assert counts["close_code:4008"] == 1  # the client's own code, counted as such
    assert socket.closed is None  # nothing sent back: it left


async def test_the_transport_finding_a_reader_stalled_counts_as_slow(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    socket.leave(Closure.SLOW_CLIENT)
    await rig.ended(socket)

    assert (rig.metrics.counts["closed:slow_client"], rig.metrics.counts["close_code:4008"]) == (1, 1)


@pytest.mark.parametrize(
    ("token", "reason"), [("", "no_token"), ("forged", "bad_signature")], ids=["missing", "forged"]
)
async def test_a_refused_token_counts_its_reason_and_4001(rig: Rig, token: str, reason: str) -> None:
    socket = rig.open_story(token=token)
    await rig.ended(socket)

    assert rig.metrics.counts[f"auth_failed:{reason}"] == 1
    assert rig.metrics.counts["close_code:4001"] == 1
    assert rig.metrics.counts["connected:story"] == 0


async def test_an_expired_token_is_counted_as_expired(rig: Rig) -> None:
    socket = rig.open_story(token=rig.tokens.issue(rig.user, ttl_seconds=-1))
    await rig.ended(socket)

    assert rig.metrics.counts["auth_failed:expired"] == 1


async def test_the_close_line_carries_the_connection_and_its_code(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str | None]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            context = CONNECTION.get()
            seen.append((record.getMessage(), context.user_id if context else None))

    handler = Capture()
    logging.getLogger("domain.gateway").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="domain.gateway"):
            socket = rig.open_story(rig.story.hex[:8])  # not a story of this user: 4003
            await rig.ended(socket)
    finally:
        logging.getLogger("domain.gateway").removeHandler(handler)

    closes = [r for r in caplog.records if r.getMessage() == "connection closed"]
    assert [(r.close_code, r.close_reason) for r in closes] == [(4003, "forbidden")]  # type: ignore[attr-defined]
    assert ("connection closed", str(rig.user)) in seen
    await eventually(lambda: CONNECTION.get() is None)
