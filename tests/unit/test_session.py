"""One story connection end to end on the fakes: client commands, keepalive, token expiry and renewal,
and the frames that end it (flood, binary, too big)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from adapters.memory import MemorySocket
from domain.connection.session import SessionLimits
from domain.errors import Closure
from domain.progress import StoryStatus
from testkit.waiting import timeout
from tests.unit.conftest import MakeRig, Rig, progress


async def connected(rig: Rig, token: str | None = None) -> MemorySocket:
    """A story connection that has received its snapshot."""
    await rig.publish(percent=25)
    socket = rig.open_story(token=token)
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    return socket


async def test_ping_is_answered_with_pong(rig: Rig) -> None:
    socket = await connected(rig)

    socket.say("ping")
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert socket.sent[1] == "pong"


async def test_status_sends_the_current_state_again(rig: Rig) -> None:
    socket = await connected(rig)

    socket.say("status")
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert socket.sent[1] == socket.sent[0]
    assert progress(socket)[1]["progress_percent"] == 25


async def test_status_on_a_story_without_state_sends_nothing(rig: Rig) -> None:
    socket = rig.open_story()
    socket.say("status")
    socket.say("ping")

    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert socket.sent == ["pong"]


@pytest.mark.parametrize("text", ["pong", "hello", "PING", "auth", '{"op": "subscribe"}'])
async def test_pong_and_unknown_text_are_ignored_and_the_connection_stays(rig: Rig, text: str) -> None:
    socket = await connected(rig)

    socket.say(text)
    socket.say("ping")
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert socket.sent[1:] == ["pong"]
    assert socket.closed is None


async def test_the_server_pings_after_keepalive_seconds_of_client_silence(make_rig: MakeRig) -> None:
    rig = await make_rig(SessionLimits(keepalive_seconds=0.1))
    socket = await connected(rig)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await socket.wait_for(lambda s: "ping" in s.sent, timeout(2))

    assert loop.time() - started >= 0.05
    assert socket.sent[1] == "ping"
    assert socket.closed is None


async def test_a_client_message_postpones_the_keepalive_ping(make_rig: MakeRig) -> None:
    rig = await make_rig(SessionLimits(keepalive_seconds=0.3))
    socket = await connected(rig)
    loop = asyncio.get_running_loop()

    socket.say("ping")
    await socket.wait_for(lambda s: "pong" in s.sent, timeout(2))
    answered = loop.time()
    await socket.wait_for(lambda s: "ping" in s.sent, timeout(2))

    assert loop.time() - answered >= 0.25


async def test_the_connection_closes_when_the_token_expires(rig: Rig) -> None:
    token = rig.tokens.issue(rig.user, ttl_seconds=0.3)
    expires_at = rig.tokens.verify(token).expires_at
    socket = await connected(rig, token=token)

    await socket.wait_for(lambda s: s.closed is not None, timeout(2))

    assert socket.closed is Closure.TOKEN_EXPIRED
    assert expires_at <= time.time() < expires_at + timeout(1)
    assert rig.metrics.counts["closed:token_expired"] == 1


async def test_auth_renews_the_token_before_it_expires(make_rig: MakeRig) -> None:
    rig = await make_rig(SessionLimits(keepalive_seconds=0.6))
    socket = await connected(rig, token=rig.tokens.issue(rig.user, ttl_seconds=0.3))

    socket.say(f"auth {rig.tokens.issue(rig.user, ttl_seconds=60)}")
    await socket.wait_for(lambda s: "auth ok" in s.sent, timeout(2))
    await socket.wait_for(lambda s: "ping" in s.sent or s.closed is not None, timeout(2))

    assert socket.closed is None, "the keepalive came after the first token's expiry, on the renewed one"


async def test_a_renewal_for_another_user_closes_as_invalid_token(rig: Rig) -> None:
    socket = await connected(rig)

    socket.say(f"auth {rig.tokens.issue(uuid.uuid4())}")
    await rig.ended(socket)

    assert socket.closed is Closure.INVALID_TOKEN
    assert "auth ok" not in socket.sent


async def test_a_bad_renewal_token_closes_as_invalid_token(rig: Rig) -> None:
    socket = await connected(rig)

    socket.say("auth not-a-token")
    await rig.ended(socket)

    assert socket.closed is Closure.INVALID_TOKEN


async def test_a_flooding_client_is_closed(rig: Rig) -> None:
    socket = await connected(rig)

    for _ in range(200):
        socket.say("pong")
    await rig.ended(socket)

    assert socket.closed is Closure.FLOOD


async def test_a_binary_frame_closes_the_connection(rig: Rig) -> None:
    socket = await connected(rig)

    socket.say(b"ping")
    await rig.ended(socket)

    assert socket.closed is Closure.BINARY


@pytest.mark.parametrize("text", ["x" * 4097, "€" * 1500])
async def test_a_frame_over_4_kib_closes_the_connection(rig: Rig, text: str) -> None:
    socket = await connected(rig)

    socket.say(text)
    await rig.ended(socket)

    assert socket.closed is Closure.TOO_BIG


async def test_a_client_that_leaves_is_not_sent_a_close(rig: Rig) -> None:
    socket = await connected(rig)

    socket.leave()
    await rig.ended(socket)

    assert socket.closed is None
    assert rig.metrics.counts["closed:client_closed"] == 1
    assert rig.metrics.open["story"] == 0


async def test_live_updates_follow_the_snapshot(rig: Rig) -> None:
    socket = await connected(rig)

    await rig.publish(status=StoryStatus.GENERATING, percent=40)
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert [(m["status"], m["progress_percent"], m["seq"]) for m in progress(socket)] == [
        ("analyzing", 25, 1),
        ("generating", 40, 2),
    ]
