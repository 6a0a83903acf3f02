"""The tests' one timeout unit, waiting on a condition instead of sleeping a fixed time, and a clock
the test moves by hand."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import pytest

TIMEOUT_SCALE = float(os.environ.get("TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds: float) -> float:
    """The one timeout unit of the tests; TEST_TIMEOUT_SCALE stretches it on a slow machine."""
    return seconds * TIMEOUT_SCALE


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check()` (a cheap local probe) until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout(seconds)
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


async def wait_for_condition(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Re-run the async probe `check` until it holds and return the seconds it took, or fail naming `what`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + timeout(seconds)
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout(seconds):.1f} s waiting for {what}")
        await asyncio.sleep(0.02)
    return loop.time() - start


async def outcome(call: Awaitable[object], seconds: float = 2.0) -> str:
    """How `call` ended within the scaled timeout: "answered" (it returned), "no answer" (it did not
    end in time: cancelled), or the exception it raised, as its repr. For an assertion on a call
    that returns nothing: `assert await outcome(feed.ping()) == "answered"` fails if it hangs or
    raises, and says which."""
    try:
        async with asyncio.timeout(timeout(seconds)):
            await call
    except TimeoutError:
        return "no answer"
    except Exception as exc:  # noqa: BLE001 (the outcome is what the caller asserts on)
        return repr(exc)
    return "answered"


class Clock:
    """A clock the test moves by hand (`now += seconds`): no waiting for a TTL to pass."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
