"""Alarm: the per-session timer that replaces an asyncio.timeout() per message."""

from __future__ import annotations

import asyncio

from domain.connection.timers import Alarm
from testkit.waiting import timeout


async def test_the_alarm_rings_once_at_the_earliest_deadline_asked_for() -> None:
    loop = asyncio.get_running_loop()
    rings: list[float] = []
    rang = asyncio.Event()
    alarm = Alarm(lambda: (rings.append(loop.time()), rang.set()))
    start = loop.time()

    alarm.at(start + 5)
    alarm.at(start + 0.05)
    alarm.at(start + 3)  # later than the armed one: ignored
    async with asyncio.timeout(timeout(2)):
        await rang.wait()

    assert len(rings) == 1
    assert start + 0.05 <= rings[0] < start + 3
    alarm.cancel()


async def test_a_cancelled_alarm_never_rings() -> None:
    loop = asyncio.get_running_loop()
    rang = asyncio.Event()
    alarm = Alarm(rang.set)
    alarm.at(loop.time() + 0.01)
    alarm.cancel()
    done = asyncio.Event()
    Alarm(done.set).at(loop.time() + 0.05)  # rings after the cancelled one would have

    async with asyncio.timeout(timeout(2)):
        await done.wait()

    assert not rang.is_set()
