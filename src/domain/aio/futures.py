"""The one home of "look at a future's outcome": so that no failure goes unlogged or unretrieved."""

from __future__ import annotations

import asyncio
from typing import Any


def failure(future: asyncio.Future[Any]) -> BaseException | None:
    """The exception of a done future, or None if it succeeded or was cancelled. Reading it marks it
    retrieved, so asyncio never logs "exception was never retrieved" for a future nobody awaited."""
    return None if future.cancelled() else future.exception()


def retrieve(future: asyncio.Future[Any]) -> None:
    """A done callback for shared futures whose waiters may all have given up (timed out)."""
    failure(future)
