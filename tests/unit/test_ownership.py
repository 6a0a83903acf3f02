"""Ownership that stays true while connected: a moved or deleted story closes its foreign story sockets
(4003) and leaves its former owner's dashboards; a revocation checks at once, the TTL at its pace."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from adapters.json_codec import JsonCodec
from adapters.memory import MemorySocket
from domain.errors import Closure
from domain.progress import ProgressUpdate, StoryStatus
from domain.values import Topic
from testkit.waiting import timeout
from tests.unit.conftest import MakeRig, Rig, eventually, progress, update


def wire(progress_update: ProgressUpdate) -> dict[str, object]:
    return progress_update.to_wire()


def of(socket: MemorySocket, story: uuid.UUID) -> list[int]:
    return [m["progress_percent"] for m in progress(socket) if m["story_id"] == str(story)]


async def answered(socket: MemorySocket, command: str) -> list[str]:
    """What the server sent in answer to `command` (a `ping` after it marks the end)."""
    start = len(socket.sent)
    socket.say(command)
    socket.say("ping")
    await socket.wait_for(lambda s: "pong" in s.sent[start:], timeout(2))
    return [text for text in socket.sent[start:] if text.startswith("{")]


async def test_a_revoked_story_that_moved_closes_its_sockets_with_4003_and_serves_its_new_owner(
    rig: Rig,
) -> None:
    await rig.publish(percent=10)
    mine = rig.open_story()
    await mine.wait_for(lambda s: len(progress(s)) == 1, timeout(2))
    buyer = uuid.uuid4()

    rig.directory.add(rig.story, buyer)
    rig.broker.revoke(rig.story)
    await rig.ended(mine)
    again = rig.open_story()
    await rig.ended(again)
    theirs = rig.open_story(token=rig.tokens.issue(buyer))
    await theirs.wait_for(lambda s: len(progress(s)) == 1, timeout(2))

    assert mine.closed is Closure.FORBIDDEN
    assert again.closed is Closure.FORBIDDEN
    assert of(theirs, rig.story) == [10]
    assert rig.metrics.counts["close_code:4003"] == 2


async def test_a_revocation_of_a_story_that_did_not_move_changes_nothing(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    asked = rig.directory.lookups

    rig.broker.revoke(rig.story)
    await eventually(lambda: rig.directory.lookups > asked)  # PostgreSQL was asked, past the cache
    await rig.publish(percent=20)
    await socket.wait_for(lambda s: len(progress(s)) == 1, timeout(2))

    assert socket.closed is None
    assert of(socket, rig.story) == [20]


async def test_revocations_that_arrive_together_are_checked_in_one_query(rig: Rig) -> None:
    moved = [uuid.uuid4() for _ in range(50)]
    buyer = uuid.uuid4()
    for story in moved:
        rig.directory.add(story, rig.user)
    sockets = [rig.open_story(story) for story in moved]
    await eventually(lambda: rig.hub.subscriber_count == 50)
    asked = rig.directory.lookups

    for story in moved:
        rig.directory.add(story, buyer)
        rig.broker.revoke(story)
    for socket in sockets:
        await rig.ended(socket)

    assert {socket.closed for socket in sockets} == {Closure.FORBIDDEN}
    assert rig.directory.lookups - asked <= 2  # the first alone, the 49 that came meanwhile together


async def test_a_revocation_that_is_not_a_story_id_is_dropped_and_counted(rig: Rig) -> None:
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    rig.broker.publish_raw("revocations", b"DROP TABLE stories")
    await eventually(lambda: rig.metrics.counts["rejected:revocation"] == 1)
    await rig.publish(percent=30)
    await socket.wait_for(lambda s: len(progress(s)) == 1, timeout(2))

    assert socket.closed is None


async def test_a_deleted_story_is_found_by_the_next_check_within_the_ttl(make_rig: MakeRig) -> None:
    rig = await make_rig(ownership_ttl=0.2)
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    del rig.directory.owners[rig.story]
    await rig.ended(socket)

    assert socket.closed is Closure.FORBIDDEN


async def test_a_moved_story_leaves_its_former_owners_dashboard_and_reaches_the_new_owners(rig: Rig) -> None:
    kept, buyer = uuid.uuid4(), uuid.uuid4()
    rig.directory.add(kept, rig.user)
    await rig.publish(percent=10)
    await rig.publish(kept, percent=50)
    mine = rig.open_dashboard(rig.tokens.issue(rig.user))
    theirs = rig.open_dashboard(rig.tokens.issue(buyer))
    await mine.wait_for(lambda s: len(progress(s)) == 2, timeout(2))
    await eventually(lambda: rig.hub.subscriber_count == 2)

    rig.directory.add(rig.story, buyer)
    rig.broker.revoke(rig.story)
    await theirs.wait_for(lambda s: of(s, rig.story) == [10], timeout(2))  # offered its state at once
    await rig.publish(percent=11)
    await rig.publish(kept, percent=51)
    await mine.wait_for(lambda s: of(s, kept) == [50, 51], timeout(2))
    await theirs.wait_for(lambda s: of(s, rig.story) == [10, 11], timeout(2))
    status = await answered(mine, "status")

    assert of(mine, rig.story) == [10]
    assert [json.loads(m)["story_id"] for m in status] == [str(kept)]
    assert mine.closed is None


async def test_while_the_directory_is_down_a_confirmed_owner_stays_served(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(ownership_ttl=0.2)
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    with caplog.at_level(logging.WARNING, logger="domain.hub.ownership"):
        rig.directory.fail()
        await eventually(lambda: "ownership check failed" in caplog.text)
    reload = rig.open_story()
    await rig.publish(percent=40)
    for each in (socket, reload):
        await each.wait_for(lambda s: of(s, rig.story) == [40], timeout(2))

    assert socket.closed is None
    assert reload.closed is None


async def test_status_answers_once_per_story_when_a_snapshot_was_stored_without_a_publish(rig: Rig) -> None:
    second = uuid.uuid4()
    rig.directory.add(second, rig.user)
    first_update = await rig.publish(percent=10)
    second_update = await rig.publish(second, percent=20)
    dashboard = rig.open_dashboard(rig.tokens.issue(rig.user))
    story = rig.open_story()
    await dashboard.wait_for(lambda s: len(progress(s)) == 2, timeout(2))
    await story.wait_for(lambda s: len(progress(s)) == 1, timeout(2))

    newer = update(rig.story, StoryStatus.SYNTHESIZING, 70, seq=(first_update.seq or 0) + 5)
    rig.broker.store(newer)
    on_dashboard = await answered(dashboard, "status")
    on_story = await answered(story, "status")

    expected = sorted([wire(newer), wire(second_update)], key=lambda m: str(m["story_id"]))
    assert sorted(map(json.loads, on_dashboard), key=lambda m: str(m["story_id"])) == expected
    assert list(map(json.loads, on_story)) == [wire(newer)]


async def test_cluster_mode_an_update_on_a_users_channel_for_anothers_story_is_not_delivered(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(redis_mode="cluster")
    broker = rig.broker
    other, theirs, unseen = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rig.directory.add(theirs, other)
    rig.directory.add(unseen, rig.user)  # a story of ours no one here has looked up yet
    mine = rig.open_story()  # its owner is now known here
    dashboard = rig.open_dashboard(rig.tokens.issue(other))
    await eventually(lambda: Topic("user", other) in broker.watched and rig.hub.subscriber_count == 2)

    for forged in (update(rig.story, percent=66, seq=9), update(unseen, percent=67, seq=9)):
        broker.publish_raw(f"user:{other}", JsonCodec().encode_bytes(forged))
    late = uuid.uuid4()
    rig.directory.add(late, other)
    await broker.publish(update(late, percent=5), other)  # looked up with the forged one: after it
    await broker.publish(update(theirs, percent=7), other)
    await dashboard.wait_for(lambda s: of(s, late) == [5] and of(s, theirs) == [7], timeout(2))

    assert [m["story_id"] for m in progress(dashboard)].count(str(rig.story)) == 0
    assert of(dashboard, unseen) == []
    assert mine.closed is None
