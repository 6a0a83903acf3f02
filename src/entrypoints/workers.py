"""`serve --workers N`: N gateway processes on one port, kept alive by a small supervisor.

Each worker is a whole gateway (its own app, container and broker subscription) running
`GatewayServer` on a socket that the supervisor bound with SO_REUSEPORT: one socket per worker, so
the kernel spreads new connections evenly over the workers (long-lived WebSockets make the count of
connections, not of requests, the load), and a dead worker's socket closes with it, so new
connections go to the others at once. A worker listens only once its app has started, and then
tells the supervisor through a pipe; one that exits before that is a start failure (bad settings,
a broken app), which stops the supervisor instead of restarting it forever. A worker that dies
later is replaced, at once the first time and with a growing delay if replacements keep dying.
SIGTERM or SIGINT is passed on as SIGTERM (each worker then closes its clients with 1001); the
supervisor exits 0 once every worker has exited.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from litestar import Litestar
from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE

from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.logs import configure_logging
from entrypoints.server import GatewayServer, gateway_config
from entrypoints.settings import load_settings

logger = logging.getLogger(__name__)

READY = b"r"
SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A worker that lived less than this died quickly; repeated quick deaths back off.
STEADY_SECONDS = 10.0
FIRST_DELAY, MAX_DELAY = 0.5, 10.0
# GatewayServer's own shutdown is bounded (about 8 s); past this a worker is killed.
STOP_SECONDS = 15.0

WorkerCommand = Callable[[int, int], list[str]]


class StartFailure(RuntimeError):
    """A worker exited before it was serving: restarting it would fail the same way."""


def worker_command(listen_fd: int, ready_fd: int) -> list[str]:
    return [sys.executable, "-m", "entrypoints.workers", str(listen_fd), str(ready_fd)]


def run_workers(count: int, host: str, port: int, command: WorkerCommand = worker_command) -> int:
    """Run `count` workers on host:port until SIGTERM/SIGINT (0) or a start failure (3, as uvicorn)."""
    return asyncio.run(Supervisor(count, host, port, command).run())


class Supervisor:
    def __init__(self, count: int, host: str, port: int, command: WorkerCommand) -> None:
        self._count, self._host, self._port, self._command = count, host, port, command
        self._stopping = asyncio.Event()

    async def run(self) -> int:
        """0 after SIGTERM/SIGINT once every worker exited; STARTUP_FAILURE if one could not start."""
        try:
            self._port = check_port_free(self._host, self._port)
        except OSError as error:
            logger.error("cannot listen on %s:%d: %s", self._host, self._port, error)
            return STARTUP_FAILURE
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._stopping.set)
        try:
            return await self._supervise()
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)

    async def _supervise(self) -> int:
        logger.info("serving on %s:%d with %d workers", self._host, self._port, self._count)
        slots = [asyncio.create_task(self._keep(slot)) for slot in range(self._count)]
        stop = asyncio.create_task(self._stopping.wait())
        await asyncio.wait([*slots, stop], return_when=asyncio.FIRST_COMPLETED)
        self._stopping.set()
        results = await asyncio.gather(*slots, return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            logger.error("%s", failure)
        logger.info("all workers exited")
        return STARTUP_FAILURE if failures else 0

    async def _keep(self, slot: int) -> None:
        """Keep one worker running in `slot` until the supervisor stops."""
        loop = asyncio.get_running_loop()
        quick_deaths = 0
        while not self._stopping.is_set():
            process, ready = await self._spawn()
            exited = asyncio.create_task(process.wait())
            stop = asyncio.create_task(self._stopping.wait())
            try:
                await _first(ready, stop)
                if not ready.done():
                    await _stop(process, exited)
                    return
                if not ready.result():
                    code = await exited
                    if self._stopping.is_set():
                        return
                    raise StartFailure(f"worker {slot} (pid {process.pid}) exited with {code} before serving")
                started = loop.time()
                logger.info("worker %d serving (pid %d)", slot, process.pid)
                await _first(exited, stop)
                if not exited.done():
                    await _stop(process, exited)
                    return
            finally:
                stop.cancel()
            quick_deaths = 0 if loop.time() - started >= STEADY_SECONDS else quick_deaths + 1
            delay = restart_delay(quick_deaths)
            logger.warning(
                "worker %d (pid %d) exited with %s; replacing it in %.1f s",
                slot,
                process.pid,
                exited.result(),
                delay,
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, asyncio.Future[bool]]:
        """Start a worker on a fresh SO_REUSEPORT socket; the future tells whether it came up."""
        listener = bind_listener(self._host, self._port)
        ready_read, ready_write = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(listener.fileno(), ready_write), pass_fds=(listener.fileno(), ready_write)
            )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            listener.close()
            os.close(ready_write)
        return process, _ready_signal(ready_read)


def restart_delay(quick_deaths: int) -> float:
    """No delay after a worker that ran steadily, or after its first quick death; then doubling."""
    if quick_deaths <= 1:
        return 0.0
    return float(min(FIRST_DELAY * 2 ** (quick_deaths - 2), MAX_DELAY))


async def _first(*futures: asyncio.Future[Any]) -> None:
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)


async def _stop(process: asyncio.subprocess.Process, exited: asyncio.Task[int]) -> None:
    """SIGTERM (the worker closes its clients with 1001), then SIGKILL if it hangs."""
    with suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(exited), STOP_SECONDS)
    except TimeoutError:
        logger.error(
            "worker pid %d still running %.0f s after SIGTERM; killing it", process.pid, STOP_SECONDS
        )
        with suppress(ProcessLookupError):
            process.kill()
        await exited


def _ready_signal(fd: int) -> asyncio.Future[bool]:
    """True when the worker writes READY; False when the pipe closes first (the worker died)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bool] = loop.create_future()

    def on_readable() -> None:
        data = os.read(fd, 1)
        loop.remove_reader(fd)
        os.close(fd)
        if not future.done():
            future.set_result(data == READY)

    loop.add_reader(fd, on_readable)
    return future


def check_port_free(host: str, port: int) -> int:
    """Bind once without SO_REUSEPORT: a port another server listens on fails here, not silently
    shared. Returns the port (the one chosen when `port` is 0)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def bind_listener(host: str, port: int) -> socket.socket:
    """Bound, not listening: the worker listens once its app is up, so no client waits on a
    worker that is still starting."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


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


def worker_main(argv: Sequence[str]) -> None:
    """One worker: the whole gateway on the socket and pipe the supervisor passed down."""
    listen_fd, ready_fd = int(argv[0]), int(argv[1])
    settings = load_settings(os.environ)
    configure_logging()
    app = create_app(Container(settings=settings))
    config = gateway_config(app, settings.host, settings.port, settings.slow_client_seconds)
    WorkerServer(config, app, ready_fd).run(sockets=[socket.socket(fileno=listen_fd)])


if __name__ == "__main__":
    worker_main(sys.argv[1:])
