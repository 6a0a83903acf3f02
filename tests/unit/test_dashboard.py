"""The dashboard endpoint: every story of the token's user, including ones created after connecting."""

from __future__ import annotations

import asyncio
import uuid

from adapters.memory import MemorySocket
from domain.connection.session import SessionLimits
from domain.errors import Closure
from domain.progress import StoryStatus
from testkit.waiting import timeout
from tests.unit.conftest import MakeRig, Rig, eventually, progress


def stories(socket: MemorySocket) -> list[tuple[str, int]]:
    return [(m["story_id"], m["progress_percent"]) for m in progress(socket)]


async def test_the_dashboard_gets_a_snapshot_of_each_story_with_state(rig: Rig) -> None:
    second, without_state = uuid.uuid4(), uuid.uuid4()
    rig.directory.add(second, rig.user)
    rig.directory.add(without_state, rig.user)
    await rig.publish(percent=10)
    await rig.publish(second, StoryStatus.COMPLETE, 100)

    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))
    socket.say("ping")
    await socket.wait_for(lambda s: "pong" in s.sent, timeout(2))

    assert sorted(stories(socket)) == sorted([(str(rig.story), 10), (str(second), 100)])
    assert socket.sent[2:] == ["pong"]


async def test_status_sends_one_message_per_story_with_state(rig: Rig) -> None:
    second = uuid.uuid4()
    rig.directory.add(second, rig.user)
    await rig.publish(percent=10)
    await rig.publish(second, percent=20)
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    socket.say("status")
    await socket.wait_for(lambda s: len(s.sent) >= 4, timeout(2))

    assert sorted(stories(socket)[2:]) == sorted(stories(socket)[:2])


async def test_a_story_created_after_connecting_reaches_the_dashboard(rig: Rig) -> None:
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await eventually(lambda: rig.hub.subscriber_count == 1)
    created = uuid.uuid4()
    rig.directory.add(created, rig.user)

    await rig.publish(created, percent=5)
    await rig.publish(created, StoryStatus.GENERATING, 40)
    await socket.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert stories(socket) == [(str(created), 5), (str(created), 40)]


async def test_a_dashboard_never_gets_another_users_story(rig: Rig) -> None:
    other_user, others_story, mine = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rig.directory.add(others_story, other_user)
    rig.directory.add(mine, rig.user)
    my_dashboard = rig.open_dashboard(rig.tokens.issue(rig.user))
    their_dashboard = rig.open_dashboard(rig.tokens.issue(other_user))
    await eventually(lambda: rig.hub.subscriber_count == 2)

    await rig.publish(others_story, percent=66)
    await rig.publish(mine, percent=11)
    await my_dashboard.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    await their_dashboard.wait_for(lambda s: len(s.sent) >= 1, timeout(2))
    await rig.publish(mine, percent=12)
    await my_dashboard.wait_for(lambda s: len(s.sent) >= 2, timeout(2))

    assert stories(my_dashboard) == [(str(mine), 11), (str(mine), 12)]
    assert stories(their_dashboard) == [(str(others_story), 66)]


async def test_a_story_watched_on_both_endpoints_reaches_both(rig: Rig) -> None:
    token = rig.tokens.issue(rig.user)
    dashboard, story = rig.open_dashboard(token), rig.open_story(token=token)
    await eventually(lambda: rig.hub.subscriber_count == 2)

    await rig.publish(percent=30)
    for socket in (dashboard, story):
        await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert stories(dashboard) == stories(story) == [(str(rig.story), 30)]


async def test_a_dashboard_with_a_bad_token_or_no_directory_is_closed(rig: Rig) -> None:
    denied, unavailable = MemorySocket(), MemorySocket()

    await rig.gateway.dashboard(denied, "forged")
    rig.directory.fail()
    await rig.gateway.dashboard(unavailable, rig.tokens.issue(rig.user))

    assert denied.closed is Closure.INVALID_TOKEN
    assert unavailable.closed is Closure.UNAVAILABLE
    assert rig.metrics.open["dashboard"] == 0


async def test_a_story_the_directory_learns_of_late_still_ends_in_its_latest_state(rig: Rig) -> None:
    """A worker may publish before the story's row is visible here (replica lag, an uncommitted INSERT);
    the dashboard must still end holding the story's latest state."""
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await eventually(lambda: rig.hub.subscriber_count == 1)
    late = uuid.uuid4()

    await rig.publish(late, percent=5)
    await eventually(lambda: rig.directory.lookups >= 1)
    rig.directory.add(late, rig.user)
    await rig.publish(late, StoryStatus.COMPLETE, 100)

    await socket.wait_for(lambda s: (str(late), 100) in stories(s), timeout(2))
    assert stories(socket)[-1] == (str(late), 100)


async def test_a_status_loop_gets_one_answer_a_second_the_rest_coalesced_into_one(make_rig: MakeRig) -> None:
    """`status` costs one message per story: a client that repeats it gets one answer at once, and
    all the others within `status_interval` coalesced into one answer at its end."""
    rig = await make_rig(SessionLimits(status_interval=0.2))
    held = [rig.story, *(uuid.uuid4() for _ in range(9))]
    for story_id in held:
        rig.directory.add(story_id, rig.user)
        await rig.publish(story_id, percent=10)
    socket = rig.open_dashboard(rig.tokens.issue(rig.user))
    await socket.wait_for(lambda s: len(s.sent) >= 10, timeout(2))
    loop = asyncio.get_running_loop()
    asked = loop.time()

    for _ in range(30):
        socket.say("status")
    await socket.wait_for(lambda s: len(s.sent) >= 30, timeout(2))
    coalesced_after = loop.time() - asked
    socket.say("ping")
    await socket.wait_for(lambda s: "pong" in s.sent, timeout(2))

    assert (len(socket.sent), socket.sent[-1]) == (31, "pong")  # snapshot, one answer, one coalesced
    assert sorted(stories(socket)[20:]) == sorted(stories(socket)[:10])
    assert coalesced_after >= 0.2
    assert socket.closed is None
