"""The story endpoint over the hub: snapshot first, live updates, slow clients, denials and shutdown."""

from __future__ import annotations

import uuid

import pytest

from adapters.memory import MemorySocket
from domain.errors import Closure
from domain.progress import StoryStatus
from testkit.waiting import timeout
from tests.unit.conftest import Rig, eventually, progress

S = StoryStatus


def state(socket: MemorySocket) -> list[tuple[str, int, int]]:
    return [(m["status"], m["progress_percent"], m["seq"]) for m in progress(socket)]


async def test_the_snapshot_comes_first_then_only_newer_updates(rig: Rig) -> None:
    for percent in (5, 15, 25):
        await rig.publish(percent=percent)
    socket = rig.open_story()
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    await rig.publish(status=S.GENERATING, percent=35)
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert state(socket) == [("analyzing", 25, 3), ("generating", 35, 4)]


async def test_a_story_without_state_gets_its_first_update_live(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    await rig.publish(percent=5)
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert state(socket) == [("analyzing", 5, 1)]


async def test_every_watcher_of_a_story_gets_each_update_and_no_other_story(rig: Rig) -> None:
    elsewhere = uuid.uuid4()
    rig.directory.add(elsewhere, rig.user)
    first, second, other = rig.open_story(), rig.open_story(), rig.open_story(elsewhere)
    await eventually(lambda: rig.hub.subscriber_count == 3)

    await rig.publish(elsewhere, percent=99)
    await rig.publish(percent=10)
    for socket in (first, second, other):
        await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert state(first) == state(second) == [("analyzing", 10, 1)]
    assert progress(other)[0]["story_id"] == str(elsewhere)


async def test_a_client_found_not_reading_is_closed_while_another_keeps_receiving(rig: Rig) -> None:
    stalled, reader = rig.open_story(), rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 2)
    stalled.stall()

    await rig.publish(percent=10)
    await eventually(lambda: rig.metrics.counts["received"] == 1)
    stalled.leave(Closure.SLOW_CLIENT)  # the transport's verdict: its protocol ping went unanswered
    await stalled.wait_for(lambda s: s.closed is not None, timeout(3))
    await rig.publish(status=S.COMPLETE, percent=100)
    await reader.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert stalled.closed is Closure.SLOW_CLIENT
    assert stalled.sent == []
    assert state(reader) == [("analyzing", 10, 1), ("complete", 100, 2)]
    assert rig.metrics.counts["closed:slow_client"] == 1


async def test_a_reader_that_falls_behind_gets_status_changes_and_the_latest_state(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    socket.stall()

    script = [(S.ANALYZING, p) for p in range(0, 30, 5)] + [(S.GENERATING, p) for p in range(30, 70, 5)]
    for status, percent in [*script, (S.COMPLETE, 100)]:
        await rig.publish(status=status, percent=percent)
    await eventually(lambda: rig.metrics.counts["received"] == len(script) + 1)  # all fanned out, stalled
    socket.resume()
    await socket.wait_for(lambda s: [m["status"] for m in progress(s)][-1:] == ["complete"], timeout(2))

    seqs = [seq for _, _, seq in state(socket)]
    assert seqs == sorted(set(seqs))
    assert [status for status, _, _ in state(socket)][-3:] == ["analyzing", "generating", "complete"]
    assert state(socket)[-1] == ("complete", 100, 15)
    assert rig.metrics.counts["merged"] > 0


@pytest.mark.parametrize(
    ("story", "token", "closure"),
    [
        ("own", "forged", Closure.INVALID_TOKEN),
        ("own", "", Closure.INVALID_TOKEN),
        ("own", "expired", Closure.TOKEN_EXPIRED),
        ("foreign", "good", Closure.FORBIDDEN),
        ("unknown", "good", Closure.FORBIDDEN),
        ("not-a-uuid", "good", Closure.FORBIDDEN),
    ],
)
async def test_a_denied_connection_is_closed_with_its_reason_and_sent_nothing(
    rig: Rig, story: str, token: str, closure: Closure
) -> None:
    foreign = uuid.uuid4()
    rig.directory.add(foreign, uuid.uuid4())
    await rig.publish(percent=50)
    await rig.publish(foreign, percent=60)
    tokens = {
        "good": rig.tokens.issue(rig.user),
        "expired": rig.tokens.issue(rig.user, -1),
        "forged": "x",
        "": "",
    }
    raw = {"own": str(rig.story), "foreign": str(foreign), "unknown": str(uuid.uuid4())}.get(story, story)
    socket = MemorySocket()

    await rig.gateway.story(socket, tokens[token], raw)

    assert socket.closed is closure
    assert socket.sent == []
    assert rig.metrics.counts[f"closed:{closure.value}"] == 1
    assert rig.metrics.open["story"] == 0


async def test_a_directory_that_is_down_closes_as_unavailable(rig: Rig) -> None:
    rig.directory.fail()
    socket = MemorySocket()

    await rig.gateway.story(socket, rig.tokens.issue(rig.user), str(rig.story))

    assert socket.closed is Closure.UNAVAILABLE


async def test_shutdown_closes_every_session_and_refuses_new_ones(rig: Rig) -> None:
    first, second = rig.open_story(), rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 2)

    assert rig.hub.close_all(Closure.SHUTDOWN) == 2
    await rig.ended(first)
    await rig.ended(second)
    late = MemorySocket()
    await rig.gateway.story(late, rig.tokens.issue(rig.user), str(rig.story))

    assert first.closed is second.closed is late.closed is Closure.SHUTDOWN
    assert rig.metrics.counts["closed:shutdown"] == 3
    assert rig.metrics.open["story"] == 0
    assert rig.hub.subscriber_count == 0


async def test_drain_closes_every_session_and_returns_once_they_are_gone(rig: Rig) -> None:
    sockets = [rig.open_story(), rig.open_dashboard(rig.tokens.issue(rig.user))]
    await eventually(lambda: rig.hub.subscriber_count == 2)

    await rig.gateway.drain(timeout(2))

    assert rig.hub.subscriber_count == 0
    assert [socket.closed for socket in sockets] == [Closure.SHUTDOWN, Closure.SHUTDOWN]


async def test_open_connections_are_counted_while_open(rig: Rig) -> None:
    sockets = [rig.open_story(), rig.open_story()]
    await eventually(lambda: rig.hub.subscriber_count == 2)

    assert rig.metrics.open["story"] == 2
    for socket in sockets:
        socket.leave()
        await rig.ended(socket)
    assert rig.metrics.open["story"] == 0
    assert rig.metrics.counts["closed:client_closed"] == 2
