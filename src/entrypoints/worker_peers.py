"""What a worker of `serve --workers N` runs beside its app: it answers its siblings' metrics
scrapes on its Unix socket, and keeps its line of the load board (its connection count, reported
every second, and the sockets the supervisor asks it to close to rebalance the workers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from adapters.prometheus_workers import answer_sibling
from domain.aio.tasks import BackgroundTasks
from domain.gateway import Gateway
from entrypoints.services import Services
from entrypoints.worker_place import WorkerPlace

logger = logging.getLogger(__name__)

REPORT_SECONDS = 1.0


@asynccontextmanager
async def beside_siblings(place: WorkerPlace, services: Services) -> AsyncIterator[None]:
    """While the app is up (a companion of `create_app`)."""
    path = place.socket_of(place.slot)
    path.unlink(missing_ok=True)  # left by the worker this one replaces
    server = await asyncio.start_unix_server(partial(answer_sibling, services.metrics), path=path)
    tasks = BackgroundTasks()
    tasks.spawn(keep_board(place, services.gateway), name="load-board")
    try:
        yield
    finally:
        await tasks.cancel_all()
        server.close()
        path.unlink(missing_ok=True)


async def keep_board(place: WorkerPlace, gateway: Gateway) -> None:
    """Every second: report the connections served here, and close those the supervisor asked for."""
    board, slot = place.board, place.slot
    while True:
        board.report(slot, gateway.open_sessions)
        if shed := board.take_order(slot):
            closed = gateway.shed(shed)
            logger.info("closed %d connections with 1012 to rebalance the workers (asked: %d)", closed, shed)
        await asyncio.sleep(REPORT_SECONDS)
