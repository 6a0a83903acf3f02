"""`serve --workers 2` on real Redis and PostgreSQL: a worker killed with SIGKILL is replaced, its
clients reconnect to the others, and every connection is served; a supervisor whose workers cannot
start, or whose port is taken, stops at once with uvicorn's startup-failure code (3)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError

from adapters.redis_progress import RedisProgressPublisher
from domain.progress import StoryStatus
from entrypoints.supervisor import Supervisor
from testkit.clients import clients_on_workers, served_client
from testkit.processes import ROOT, free_port, port_open
from testkit.waiting import timeout, wait_until
from tests.contracts.progress import make_update
from tests.integration.conftest import StartGateway, TwoWorkers

logger = logging.getLogger(__name__)


async def test_killed_worker_is_replaced_and_its_clients_reconnect(
    two_workers: TwoWorkers, redis_publisher: RedisProgressPublisher
) -> None:
    gateway, story, workers = two_workers.gateway, two_workers.story, two_workers.workers
    async with AsyncExitStack() as stack:
        clients = await clients_on_workers(stack, gateway, story.path(), workers, each=2)
        victim, survivor = workers
        doomed = [c for c in clients if c.worker == victim]

        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        for client in doomed:
            with pytest.raises(ConnectionClosedError) as closed:
                await client.progress.read_seq(2)
            assert closed.value.rcvd is None  # no close frame: an abnormal closure (1006)
        replaced = await asyncio.to_thread(gateway.wait_workers, 2)
        replacement_seconds = time.monotonic() - killed_at
        (replacement,) = set(replaced) - {survivor}
        assert replacement != victim
        assert replacement_seconds < timeout(3), f"replaced after {replacement_seconds:.2f} s"

        reconnected = [await served_client(stack, gateway, story.path(), 1) for _ in doomed]
        assert {c.worker for c in reconnected} <= {survivor, replacement}
        newcomers = await clients_on_workers(stack, gateway, story.path(), [replacement, survivor])

        await redis_publisher.publish(make_update(story.id, StoryStatus.GENERATING, 20))
        live = [c for c in clients if c.worker == survivor] + reconnected + newcomers
        for client in live:
            message = await client.progress.read_seq(2)
            assert (message["seq"], message["progress_percent"]) == (2, 20)
        logger.info("worker replaced %.2f s after SIGKILL; %d clients served", replacement_seconds, len(live))


def test_workers_stop_when_the_supervisor_is_killed(start_gateway: StartGateway) -> None:
    gateway = start_gateway(command=("serve", "--workers", "2"))
    workers = gateway.wait_workers(2)

    assert gateway.process is not None
    gateway.process.kill()
    gateway.process.wait()
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10, "orphan workers to exit"
    )
    wait_until(lambda: not port_open("127.0.0.1", gateway.port), 5, "the port to be free")


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by whoever adopts it, maybe late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class CountingSupervisor(Supervisor):
    """Counts the workers it forks (in the supervisor: a child may be stopped before it runs)."""

    forks = 0

    def _spawn(self, slot: int) -> None:
        self.forks += 1
        super()._spawn(slot)


def failing_worker(listener: socket.socket, ready_fd: int, slot: int) -> None:
    raise SystemExit(3)


def test_workers_that_cannot_start_stop_the_supervisor_with_3() -> None:
    supervisor = CountingSupervisor(2, "127.0.0.1", 0, failing_worker)
    started = time.monotonic()
    assert supervisor.run() == 3
    assert supervisor.forks == 2  # one try per worker: no restart loop
    assert time.monotonic() - started < timeout(5)


def test_a_taken_port_stops_serve_workers_with_3() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {
            **os.environ,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/unused",
            "JWT_SECRET": "s" * 32,
            "HOST": "127.0.0.1",
            "PORT": str(taken.getsockname()[1]),
        }
        done = subprocess.run(
            [sys.executable, "-m", "entrypoints", "serve", "--workers", "2"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout(20),
            check=False,
        )
    assert done.returncode == 3
    assert "cannot listen on 127.0.0.1" in done.stderr
    assert "serving" not in done.stderr
    assert free_port()  # the test's own socket is closed again
