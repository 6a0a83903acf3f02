"""Cancel on the fakes, end to end through a session: the owner's `cancel` is recorded and signalled,
a terminal story, another user's story, a bad id and a failing Redis are refused with their reason,
a dashboard's answer names the story, the flood guard counts it, and every outcome is counted."""

from __future__ import annotations

import uuid

from adapters.memory import MemorySocket, MemoryWorkerSignals
from domain.errors import Closure
from domain.progress import StoryStatus
from testkit.waiting import timeout
from tests.unit.conftest import Rig


def signals(rig: Rig) -> MemoryWorkerSignals:
    fake: MemoryWorkerSignals = rig.container.memory_signals()
    return fake


async def answer(socket: MemorySocket, message: str) -> str:
    socket.say(message)
    await socket.wait_for(lambda s: any(t.startswith("cancel ") for t in s.sent), timeout(2))
    return next(t for t in socket.sent if t.startswith("cancel "))


async def story_socket(rig: Rig) -> MemorySocket:
    await rig.publish(percent=25)
    socket = rig.open_story()
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    return socket


async def dashboard(rig: Rig) -> MemorySocket:
    await rig.publish(percent=25)
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    return socket


async def test_the_owner_cancels_a_running_story(rig: Rig) -> None:
    socket = await story_socket(rig)

    assert await answer(socket, "cancel") == "cancel ok"
    request = signals(rig).cancels[rig.story]
    assert request.user_id == rig.user
    assert signals(rig).signalled == [rig.story]
    assert rig.metrics.counts["cancel:ok"] == 1
    assert socket.closed is None


async def test_a_repeated_cancel_is_ok_and_the_first_request_stands(rig: Rig) -> None:
    socket = await story_socket(rig)
    await answer(socket, "cancel")
    first = signals(rig).cancels[rig.story]
    socket.sent.clear()

    assert await answer(socket, "cancel") == "cancel ok"
    assert signals(rig).cancels[rig.story] is first


async def test_a_terminal_story_is_refused(rig: Rig) -> None:
    socket = await story_socket(rig)
    await rig.publish(status=StoryStatus.COMPLETE, percent=100)

    assert await answer(socket, "cancel") == "cancel refused terminal"
    assert signals(rig).cancels == {}
    assert rig.metrics.counts["cancel:terminal"] == 1


async def test_redis_failing_is_unavailable(rig: Rig) -> None:
    socket = await story_socket(rig)
    signals(rig).fail()

    assert await answer(socket, "cancel") == "cancel refused unavailable"
    assert rig.metrics.counts["cancel:unavailable"] == 1


async def test_a_dashboard_cancels_a_story_of_its_user_by_id_and_the_answer_names_it(rig: Rig) -> None:
    socket = await dashboard(rig)

    assert await answer(socket, f"cancel {rig.story}") == f"cancel ok {rig.story}"
    assert rig.story in signals(rig).cancels


async def test_a_dashboard_cannot_cancel_another_users_story(rig: Rig) -> None:
    other = uuid.uuid4()
    rig.directory.add(other, uuid.uuid4())
    socket = await dashboard(rig)

    assert await answer(socket, f"cancel {other}") == f"cancel refused {other} forbidden"
    assert signals(rig).cancels == {}
    assert rig.metrics.counts["cancel:forbidden"] == 1


async def test_a_bad_id_or_no_id_on_a_dashboard_is_forbidden(rig: Rig) -> None:
    socket = await dashboard(rig)

    assert await answer(socket, "cancel not-a-uuid") == "cancel refused not-a-uuid forbidden"
    socket.sent.clear()
    assert await answer(socket, "cancel") == "cancel refused forbidden"


async def test_the_flood_guard_counts_cancel(rig: Rig) -> None:
    socket = await story_socket(rig)

    for _ in range(200):
        socket.say("cancel")
    await rig.ended(socket)

    assert socket.closed is Closure.FLOOD
    assert len(signals(rig).signalled) < 200


async def test_cancel_without_a_socket_checks_the_token_and_the_owner(rig: Rig) -> None:
    await rig.publish(percent=25)
    outcome = await rig.gateway.cancel(rig.tokens.issue(rig.user), str(rig.story))
    stranger = await rig.gateway.cancel(rig.tokens.issue(uuid.uuid4()), str(rig.story))

    assert (outcome.value, stranger.value) == ("ok", "forbidden")
