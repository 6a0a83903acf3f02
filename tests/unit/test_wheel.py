"""The shared timer wheel: members visited at the first tick at or after the time they asked for,
an earlier request moving a member, and one entry per member however often it asks."""

from __future__ import annotations

import asyncio

from domain.aio.wheel import Wheel
from testkit.waiting import timeout

TICK = 0.02


class Member:
    """Records its visits; `again` is how long after a visit to ask for the next one."""

    def __init__(self, name: str, again: float | None = None) -> None:
        self.name = name
        self.again = again
        self.wheel_slot = 0
        self.visits: list[float] = []
        self.visited = asyncio.Event()

    def visit(self, now: float) -> float | None:
        self.visits.append(now)
        self.visited.set()
        return now + self.again if self.again is not None else None


async def test_a_member_is_visited_at_the_first_tick_at_or_after_its_time() -> None:
    wheel, member = Wheel(TICK), Member("a")
    loop = asyncio.get_running_loop()
    asked = loop.time() + 0.1

    wheel.visit_at(member, asked)
    await asyncio.wait_for(member.visited.wait(), timeout(2))

    assert asked <= member.visits[0] < asked + TICK + timeout(0.1)
    assert len(wheel) == 0


async def test_an_earlier_request_moves_a_member_and_a_later_one_waits_for_its_visit() -> None:
    wheel, member = Wheel(TICK), Member("a")
    now = asyncio.get_running_loop().time()

    wheel.visit_at(member, now + 10)
    wheel.visit_at(member, now + 0.05)  # earlier: moved
    wheel.visit_at(member, now + 5)  # later: its visit at 0.05 will answer
    assert len(wheel) == 1
    await asyncio.wait_for(member.visited.wait(), timeout(2))

    assert len(member.visits) == 1
    assert member.visits[0] < now + 1
    assert len(wheel) == 0


async def test_a_visit_asks_for_the_next_one_and_forget_ends_them() -> None:
    wheel, member = Wheel(TICK), Member("a", again=0.03)
    wheel.visit_at(member, asyncio.get_running_loop().time())

    for _ in range(3):
        member.visited.clear()
        await asyncio.wait_for(member.visited.wait(), timeout(2))
    wheel.forget(member)

    assert len(member.visits) >= 3
    assert member.visits == sorted(member.visits)
    assert len(wheel) == 0


async def test_the_wheel_holds_one_entry_per_member_however_many_ask_and_how_often() -> None:
    """The bound: 5,000 members asking 4 times each (each earlier) hold 5,000 entries, in as many
    slots as distinct ticks were asked for, and all are visited once."""
    wheel = Wheel(TICK)
    now = asyncio.get_running_loop().time()
    members = [Member(str(n)) for n in range(5000)]
    for offset in (0.4, 0.3, 0.2, 0.1):
        for member in members:
            wheel.visit_at(member, now + offset)
    assert len(wheel) == 5000
    assert len(wheel._buckets) <= 2

    await asyncio.wait_for(asyncio.gather(*(m.visited.wait() for m in members)), timeout(3))

    assert [len(m.visits) for m in members] == [1] * 5000
    assert len(wheel) == 0
    assert wheel._buckets == {}
