"""Each user's share of a process: story and dashboard sockets counted together, the one over the
limit closed with 4029 after the accept, and every slot given back however its connection ended."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers

from adapters.memory import MemorySocket
from domain.connection.quota import ConnectionQuota
from domain.errors import Closure
from testkit.waiting import timeout
from tests.unit.conftest import Rig, memory_container, progress, rig_on

LIMIT = 3


def test_a_user_gets_limit_slots_and_a_released_one_back() -> None:
    quota, user, other = ConnectionQuota(LIMIT), uuid.uuid4(), uuid.uuid4()

    taken = [quota.acquire(user) for _ in range(LIMIT + 1)]
    other_taken = quota.acquire(other)
    quota.release(user)

    assert taken == [True] * LIMIT + [False]
    assert other_taken
    assert quota.held(user) == LIMIT - 1
    assert quota.acquire(user)
    assert not quota.acquire(user)


def test_the_map_holds_only_users_with_a_connection_open() -> None:
    """Bound: one entry per user holding a slot; driven past with 10,000 users coming and going."""
    quota = ConnectionQuota(LIMIT)
    users = [uuid.uuid4() for _ in range(10_000)]
    for user in users:
        assert quota.acquire(user)
    stays = users[:10]
    for user in users[10:]:
        quota.release(user)

    assert len(quota) == len(stays)
    for user in stays:
        quota.release(user)
    assert len(quota) == 0


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ConnectionQuota(0)


@pytest.fixture
async def small_rig() -> AsyncIterator[Rig]:
    container = memory_container()
    container.quota.override(providers.Object(ConnectionQuota(LIMIT)))
    rig = await rig_on(container)
    yield rig
    await rig.close()


async def served(rig: Rig, socket: MemorySocket) -> MemorySocket:
    """Until `socket` holds the story's snapshot (a served connection holds its slot)."""
    await socket.wait_for(lambda s: len(progress(s)) >= 1, timeout(2))
    return socket


async def test_story_and_dashboard_sockets_share_the_limit_and_the_next_gets_4029(small_rig: Rig) -> None:
    rig = small_rig
    await rig.publish(percent=10)
    token = rig.tokens.issue(rig.user)
    held = [await served(rig, rig.open_story()) for _ in range(LIMIT - 1)]
    held.append(await served(rig, rig.open_dashboard(token)))

    over = rig.open_dashboard(token)
    await rig.ended(over)

    assert over.closed is Closure.TOO_MANY_CONNECTIONS
    assert over.closed.code == 4029
    assert progress(over) == []
    assert all(socket.closed is None for socket in held)
    assert rig.metrics.counts["close_code:4029"] == 1
    assert rig.metrics.counts["closed:too_many_connections"] == 1


async def test_closing_one_lets_a_new_one_in_and_another_user_is_unaffected(small_rig: Rig) -> None:
    rig = small_rig
    await rig.publish(percent=10)
    held = [await served(rig, rig.open_story()) for _ in range(LIMIT)]
    other, their_story = uuid.uuid4(), uuid.uuid4()
    rig.directory.add(their_story, other)
    await rig.publish(their_story, percent=20)

    theirs = [await served(rig, rig.open_story(their_story, rig.tokens.issue(other))) for _ in range(LIMIT)]
    refused = rig.open_story()
    await rig.ended(refused)
    held[0].leave()
    await rig.ended(held[0])
    again = await served(rig, rig.open_story())

    assert refused.closed is Closure.TOO_MANY_CONNECTIONS
    assert again.closed is None
    assert all(socket.closed is None for socket in theirs)


async def test_every_way_out_gives_the_slot_back(small_rig: Rig) -> None:
    """Denied after the slot was taken (4003), refused for an unavailable directory (1013), closed
    by the server (flood), closed by the client: afterwards the user holds nothing."""
    rig = small_rig
    await rig.publish(percent=10)
    foreign = uuid.uuid4()
    rig.directory.add(foreign, uuid.uuid4())
    forbidden = rig.open_story(foreign)
    await rig.ended(forbidden)
    rig.directory.fail()
    unavailable = rig.open_story(uuid.uuid4())
    await rig.ended(unavailable)
    rig.directory.recover()
    flooder = await served(rig, rig.open_story())
    for _ in range(200):
        flooder.say("ping")
    await rig.ended(flooder)
    leaver = await served(rig, rig.open_story())
    leaver.leave()
    await rig.ended(leaver)

    assert (forbidden.closed, unavailable.closed, flooder.closed) == (
        Closure.FORBIDDEN,
        Closure.UNAVAILABLE,
        Closure.FLOOD,
    )
    quota: ConnectionQuota = rig.container.quota()
    assert quota.held(rig.user) == 0
    assert len(quota) == 0
    assert [await served(rig, rig.open_story()) for _ in range(LIMIT)][-1].closed is None
