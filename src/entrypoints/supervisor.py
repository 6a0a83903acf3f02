"""The pre-fork supervisor of `serve --workers N`: N processes on one port, kept alive.

One socket per worker, bound here with SO_REUSEPORT, so the kernel spreads new connections over
the workers and a dead worker's socket closes with it. A worker listens only once its app has
started, and then says so through a pipe; one that exits before that is a start failure (a broken
app or environment), which stops the supervisor instead of restarting it forever. A worker that
dies later is replaced, at once the first time and with a growing delay if replacements keep
dying. SIGTERM or SIGINT is passed on as SIGTERM (each worker then closes its clients with 1001);
the supervisor exits 0 once every worker has exited. It holds no event loop, thread or connection:
what a worker runs is its `target`, called in the forked child.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import time
from contextlib import suppress
from types import FrameType

from uvicorn.config import STARTUP_FAILURE

from domain.aio.backoff import Backoff
from entrypoints.rebalancing import Rebalancer
from entrypoints.reuseport import check_port_free
from entrypoints.worker_processes import READY, SIGNALS, Fork, Worker, WorkerTarget

logger = logging.getLogger(__name__)

# A worker that lived less than this died quickly; repeated quick deaths back off.
STEADY_SECONDS = 10.0
FIRST_DELAY, MAX_DELAY = 0.5, 10.0
_RESTART_BACKOFF = Backoff(base=FIRST_DELAY, cap=MAX_DELAY, rng=lambda: 1.0)  # no jitter: one host
# GatewayServer's own shutdown is bounded (about 8 s); past this a worker is killed.
STOP_SECONDS = 15.0


class Supervisor:
    def __init__(
        self,
        count: int,
        host: str,
        port: int,
        target: WorkerTarget,
        rebalancer: Rebalancer | None = None,
    ) -> None:
        self._count, self._host, self._port, self._target = count, host, port, target
        self._rebalancer = rebalancer
        self._served: set[int] = set()  # slots where a worker has served: the next one is a replacement
        self._workers: dict[int, Worker] = {}
        self._restarts: dict[int, float] = {}  # slot -> when to start its replacement
        self._quick_deaths = [0] * count
        self._selector = selectors.DefaultSelector()
        self._wake: tuple[int, ...] = ()  # the wakeup pipe of the signal handlers
        self._stopping = False
        self._failed = False

    def run(self) -> int:
        """0 after SIGTERM/SIGINT once every worker exited; STARTUP_FAILURE if one could not start."""
        try:
            self._port = check_port_free(self._host, self._port)
        except OSError as error:
            logger.error("cannot listen on %s:%d: %s", self._host, self._port, error)
            return STARTUP_FAILURE
        self._wake = wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self._selector.register(wake_read, selectors.EVENT_READ)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (*SIGNALS, signal.SIGCHLD)}
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        try:
            logger.info("serving on %s:%d with %d workers", self._host, self._port, self._count)
            for slot in range(self._count):
                if not self._stopping:
                    self._start(slot, first=True)
            self._supervise(wake_read)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._selector.close()
            os.close(wake_read)
            os.close(wake_write)
        logger.info("all workers exited")
        return STARTUP_FAILURE if self._failed else 0

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        """Runs between bytecodes: only flags; the wakeup fd makes the loop look."""
        if sig in SIGNALS:
            self._stopping = True

    def _supervise(self, wake_read: int) -> None:
        kill_at: float | None = None
        while True:
            self._reap()
            if self._stopping:
                if kill_at is None:
                    self._restarts.clear()
                    self._signal_all(signal.SIGTERM)
                    kill_at = time.monotonic() + STOP_SECONDS
                if not self._workers:
                    return
                if time.monotonic() >= kill_at:
                    logger.error("workers still running %.0f s after SIGTERM; killing them", STOP_SECONDS)
                    self._signal_all(signal.SIGKILL)
                    kill_at = time.monotonic() + STOP_SECONDS
            self._start_due()
            if self._rebalancer is not None and not self._stopping:
                self._rebalancer.tick()
            for key, _ in self._selector.select(self._wait_seconds(kill_at)):
                if key.fd == wake_read:
                    _drain(wake_read)
                else:
                    self._read_ready(key.data, key.fd)

    def _wait_seconds(self, kill_at: float | None) -> float | None:
        rebalance = self._rebalancer.due if self._rebalancer is not None else None
        deadlines = [*self._restarts.values(), *(t for t in (kill_at, rebalance) if t is not None)]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _spawn(self, slot: int) -> None:
        if self._rebalancer is not None:
            self._rebalancer.vacate(slot)
        worker = Fork(self._host, self._port, self._target, self._close_in_child).worker(slot)
        self._workers[worker.pid] = worker
        if worker.ready_fd is not None:
            self._selector.register(worker.ready_fd, selectors.EVENT_READ, worker)

    def _close_in_child(self) -> None:
        """In a forked worker: the supervisor's selector and descriptors are not the worker's."""
        self._selector.close()
        for fd in [*self._wake, *(w.ready_fd for w in self._workers.values())]:
            if fd is not None:
                os.close(fd)

    def _read_ready(self, worker: Worker, fd: int) -> None:
        if os.read(fd, 1) == READY:
            worker.ready, worker.started_at = True, time.monotonic()
            logger.info("worker %d serving (pid %d)", worker.slot, worker.pid)
            if worker.slot in self._served and self._rebalancer is not None:
                self._rebalancer.replaced()
            self._served.add(worker.slot)
        self._close_ready(worker)

    def _close_ready(self, worker: Worker) -> None:
        if worker.ready_fd is not None:
            self._selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = None

    def _reap(self) -> None:
        while self._workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is not None:
                self._exited(worker, os.waitstatus_to_exitcode(status))

    def _exited(self, worker: Worker, code: int) -> None:
        if (fd := worker.ready_fd) is not None:
            os.set_blocking(fd, False)
            with suppress(BlockingIOError):
                self._read_ready(worker, fd)  # READY may still sit in the pipe
            self._close_ready(worker)
        if self._rebalancer is not None:
            self._rebalancer.vacate(worker.slot)
        if self._stopping:
            return
        if not worker.ready:
            logger.error("worker %d (pid %d) exited with %d before serving", worker.slot, worker.pid, code)
            self._failed = self._stopping = True
            return
        steady = time.monotonic() - worker.started_at >= STEADY_SECONDS
        self._quick_deaths[worker.slot] = 0 if steady else self._quick_deaths[worker.slot] + 1
        delay = restart_delay(self._quick_deaths[worker.slot])
        logger.warning(
            "worker %d (pid %d) exited with %d; replacing it in %.1f s", worker.slot, worker.pid, code, delay
        )
        self._restarts[worker.slot] = time.monotonic() + delay

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot, due in list(self._restarts.items()):
            if due <= now:
                del self._restarts[slot]
                self._start(slot, first=False)

    def _start(self, slot: int, *, first: bool) -> None:
        """A worker that cannot be forked stops a starting supervisor; a replacement is retried."""
        try:
            self._spawn(slot)
        except OSError as error:
            logger.error("cannot start worker %d: %s", slot, error)
            if first:
                self._failed = self._stopping = True
            else:
                self._restarts[slot] = time.monotonic() + MAX_DELAY

    def _signal_all(self, sig: int) -> None:
        for pid in self._workers:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)


def restart_delay(quick_deaths: int) -> float:
    """No delay after a worker that ran steadily, or after its first quick death; then doubling."""
    if quick_deaths <= 1:
        return 0.0
    return _RESTART_BACKOFF.delay(quick_deaths - 2)


def _drain(fd: int) -> None:
    with suppress(BlockingIOError):
        while os.read(fd, 512):
            pass
