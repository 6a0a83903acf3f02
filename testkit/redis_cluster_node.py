"""One node of the tests' private Redis Cluster: a redis-server process and what it says of itself."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

HOST = "127.0.0.1"
NODE_OPTIONS = (
    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"),
    *("--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--bind", HOST),
)


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: the tests need it to start a private Redis Cluster")
    return found


@dataclass
class ClusterNode:
    port: int
    bus_port: int
    dir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = ("--port", str(self.port), "--cluster-port", str(self.bus_port), "--dir", str(self.dir))
        self.process = subprocess.Popen(
            [binary("redis-server"), *args, *NODE_OPTIONS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def cluster_state(self) -> str | None:
        """`cluster_state` of `CLUSTER INFO`, or None when the node does not answer."""
        with contextlib.suppress(RedisError), self.client() as client:
            text = client.execute_command("CLUSTER", "INFO")
            text = text.decode() if isinstance(text, bytes) else str(text)
            return dict(line.split(":", 1) for line in text.splitlines() if ":" in line).get("cluster_state")
        return None

    def is_synced_replica(self) -> bool:
        with contextlib.suppress(RedisError), self.client() as client:
            replication = client.info("replication")
            return bool(replication.get("role") == "slave" and replication.get("master_link_status") == "up")
        return False

    def replica_waiting(self) -> bool:
        """A replica whose link to its master is not up yet (a master never waits)."""
        with contextlib.suppress(RedisError), self.client() as client:
            replication = client.info("replication")
            return bool(replication.get("role") == "slave" and replication.get("master_link_status") != "up")
        return True

    def is_master(self) -> bool:
        with contextlib.suppress(RedisError), self.client() as client:
            return bool(client.info("replication").get("role") == "master")
        return False

    def client(self) -> Redis:
        return Redis(host=HOST, port=self.port, socket_timeout=1, socket_connect_timeout=1)
