"""Readiness: what an operator or a load balancer needs to know before sending clients here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from domain.errors import DirectoryUnavailable, FeedUnavailable
from domain.hub.hub import ProgressHub
from domain.ports import ProgressFeed, StoryDirectory


async def down_dependencies(
    hub: ProgressHub, feed: ProgressFeed, directory: StoryDirectory, timeout: float = 1.0
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
