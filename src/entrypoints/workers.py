"""`serve --workers N`: N gateway processes on one port, kept alive by a small pre-fork supervisor.

Each worker is a whole gateway (its own app, container and broker subscription) running
`GatewayServer` on a socket that the supervisor bound with SO_REUSEPORT: one socket per worker, so
the kernel spreads new connections evenly over the workers (long-lived WebSockets make the count of
connections, not of requests, the load), and a dead worker's socket closes with it, so new
connections go to the others at once.

Workers are forked from the supervisor, which has imported the whole gateway but holds no event
loop, thread or connection: a replacement starts in a fraction of a second instead of paying the
interpreter's start and the imports again. A worker listens only once its app has started, and
then says so through a pipe; one that exits before that is a start failure (a broken app or
environment), which stops the supervisor instead of restarting it forever. A worker that dies
later is replaced, at once the first time and with a growing delay if replacements keep dying.
SIGTERM or SIGINT is passed on as SIGTERM (each worker then closes its clients with 1001); the
supervisor exits 0 once every worker has exited.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from litestar import Litestar
from uvicorn import Config

from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.rebalancing import Rebalancer, Rebalancing
from entrypoints.server import GatewayServer, gateway_config
from entrypoints.settings import Settings
from entrypoints.supervisor import Supervisor
from entrypoints.worker_peers import beside_siblings
from entrypoints.worker_place import LoadBoard, WorkerPlace
from entrypoints.worker_processes import READY


def run_workers(count: int, settings: Settings, rebalancing: Rebalancing | None = None) -> int:
    """Run `count` workers on HOST:PORT until SIGTERM/SIGINT (0) or a start failure (3, as uvicorn).
    Workers inherit the settings and the logging configured here (they are forked), the load board
    and a private directory (removed at the end) for their sockets."""
    board = LoadBoard(count)
    with tempfile.TemporaryDirectory(prefix="codestory-workers-") as directory:
        target = WorkerSetup(settings, board, Path(directory)).serve
        rebalancer = Rebalancer(board, rebalancing or Rebalancing())
        return Supervisor(count, settings.host, settings.port, target, rebalancer).run()


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What every worker is forked with: the settings, the load board, its siblings' directory."""

    settings: Settings
    board: LoadBoard
    directory: Path

    def serve(self, listener: socket.socket, ready_fd: int, slot: int) -> None:
        """One worker: the whole gateway, its app and container built in the child, beside its siblings."""
        place = WorkerPlace(slot, self.board, self.directory)
        container = Container(settings=self.settings, worker=place)
        app = create_app(container, companions=[partial(beside_siblings, place)])
        config = gateway_config(app, self.settings)
        WorkerServer(config, app, ready_fd).run(sockets=[listener])


class WorkerServer(GatewayServer):
    """GatewayServer that tells the supervisor when it serves."""

    def __init__(self, config: Config, app: Litestar, ready_fd: int) -> None:
        super().__init__(config, app)
        self._ready_fd = ready_fd

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            os.write(self._ready_fd, READY)
            os.close(self._ready_fd)
