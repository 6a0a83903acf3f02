"""One worker process of `serve --workers N`, forked: its socket bound here (so a bind error stays
in the supervisor), its signals and descriptors its own, and an exit that is always `os._exit`.

A supervisor killed outright (SIGKILL, the OOM killer) must not leave workers holding the port:
Linux sends them SIGTERM when it dies (prctl PR_SET_PDEATHSIG), a graceful stop.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from entrypoints.reuseport import bind_listener

READY = b"r"
SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1

# What a worker runs, in the forked child: serve on `listener`, write READY to `ready_fd` once serving,
# as the worker of a slot (0 to N - 1).
WorkerTarget = Callable[[socket.socket, int, int], None]


@dataclass
class Worker:
    slot: int
    pid: int
    ready_fd: int | None  # open until the worker said READY or died
    ready: bool = False
    started_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Fork:
    """How a worker is forked: on `host`:`port`, running `target`; `cleanup` runs first in the
    child (it drops the supervisor's selector and descriptors)."""

    host: str
    port: int
    target: WorkerTarget
    cleanup: Callable[[], None]

    def worker(self, slot: int) -> Worker:
        """Fork the worker of `slot` on a fresh SO_REUSEPORT socket; its READY pipe is open."""
        with bind_listener(self.host, self.port) as listener:
            ready_read, ready_write = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            supervisor = os.getpid()
            # Blocked across the fork: a SIGTERM meant for the child waits for its default handler.
            signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
            pid = -1
            try:
                pid = os.fork()
            except OSError:
                os.close(ready_read)
                os.close(ready_write)
                raise
            finally:
                if pid != 0:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            if pid == 0:
                os.close(ready_read)
                self._run_child(supervisor, listener, ready_write, slot)
            os.close(ready_write)
        return Worker(slot, pid, ready_read)

    def _run_child(self, supervisor: int, listener: socket.socket, ready_fd: int, slot: int) -> NoReturn:
        """In the forked child: drop the supervisor's signals and descriptors, run the target."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (*SIGNALS, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            _stop_with_parent(supervisor)
            self.cleanup()
            self.target(listener, ready_fd, slot)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:  # noqa: BLE001 (a forked child must end in os._exit, whatever happened)
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _stop_with_parent(supervisor: int) -> None:
    """SIGTERM when the supervisor dies (Linux); a supervisor already gone means exit now."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the request took effect
        raise SystemExit(0)
