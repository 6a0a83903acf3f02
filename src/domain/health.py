"""Readiness: what an operator or a load balancer needs to know before sending clients here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from domain.aio.futures import retrieve
from domain.errors import DirectoryUnavailable, FeedUnavailable
from domain.hub.hub import ProgressHub
from domain.ports import ProgressFeed, StoryDirectory

PROBE_MAX_AGE = 1.0  # seconds an answer of /readyz is reused
PROBE_TIMEOUT = 1.0  # seconds a dependency has to answer a probe


async def down_dependencies(
    hub: ProgressHub, feed: ProgressFeed, directory: StoryDirectory, timeout: float = PROBE_TIMEOUT
) -> list[str]:
    """Names of the dependencies that do not answer; Redis counts as down while the listener is."""
    redis_ok, postgres_ok = await asyncio.gather(
        _answers(feed.ping(), timeout), _answers(directory.ping(), timeout)
    )
    down = []
    if not (redis_ok and hub.ready):
        down.append("redis")
    if not postgres_ok:
        down.append("postgres")
    return down


async def _answers(check: Awaitable[None], timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await check
    except (FeedUnavailable, DirectoryUnavailable, TimeoutError):
        return False
    return True


class Readiness:
    """`down_dependencies` from a probe at most `PROBE_MAX_AGE` seconds old (counted from its
    start): however many ask at once, one probe runs (single flight), and its answer is shared
    until it is that old. So a client polling `/readyz` costs PostgreSQL and Redis at most one
    round trip each per `PROBE_MAX_AGE`."""

    def __init__(
        self,
        hub: ProgressHub,
        feed: ProgressFeed,
        directory: StoryDirectory,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe_args = (hub, feed, directory)
        self._max_age = PROBE_MAX_AGE
        self._clock = clock
        self._answer: tuple[float, list[str]] | None = None  # (when its probe started, the answer)
        self._probe: asyncio.Future[list[str]] | None = None

    async def down(self) -> list[str]:
        if self._answer is not None and self._clock() - self._answer[0] < self._max_age:
            return list(self._answer[1])
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._run(self._clock()))
            self._probe.add_done_callback(retrieve)  # its waiters may all have gone
        return list(await asyncio.shield(self._probe))

    async def _run(self, started: float) -> list[str]:
        try:
            down = await down_dependencies(*self._probe_args)
            self._answer = (started, down)
            return down
        finally:
            self._probe = None
