"""A private Redis Cluster for the tests: 3 masters and 3 replicas on free ports, in a temp dir.

Each node gets its own client port and cluster-bus port (`--cluster-port`: port + 10000 may not
exist for a high free port). Replicas sync with no delay, so a master killed right after start
already has a replica ready to be promoted. Tests find a key's master (`master_of`), kill it
(SIGKILL), wait for its replica's promotion (`wait_promoted`), move a slot (`move_slot`), and
bring a killed node back as a replica (`revive`).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from testkit.processes import free_port, port_open
from testkit.redis_cluster_node import HOST, ClusterNode, binary
from testkit.waiting import wait_until


@dataclass
class RedisCluster:
    """Start with `start()`, always `stop()`: it kills every node and removes their directories."""

    size: int = 6
    replicas: int = 1  # per master; 0 with size 3 gives a smaller cluster for tests that kill it all
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-cluster-")))
    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.nodes[0].port}"

    def start(self) -> RedisCluster:
        """Start the nodes (again on fresh ports if one could not bind: another run may take a free
        port between our pick and its bind), form the cluster, and wait until it is healthy."""
        try:
            if not self._launch_nodes():
                self._kill_nodes()
                if not self._launch_nodes():
                    pytest.fail(f"redis-server did not start on ports {[n.port for n in self.nodes]}")
            create = [binary("redis-cli"), "--cluster", "create", *(f"{HOST}:{n.port}" for n in self.nodes)]
            subprocess.run(
                [*create, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=30,
            )
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch_nodes(self) -> bool:
        """Start every node on distinct free ports; False if one of them exited instead of listening."""
        ports: set[int] = set()
        while len(ports) < 2 * self.size:
            ports.add(free_port())
        picked = iter(sorted(ports))
        self.nodes = [ClusterNode(next(picked), next(picked), self.root / str(i)) for i in range(self.size)]
        for node in self.nodes:
            node.start()

        def settled() -> bool:
            return all(port_open(HOST, n.port) or n.exited() for n in self.nodes)

        wait_until(settled, 10, "the redis-server nodes to listen")
        return not any(n.exited() for n in self.nodes)

    def _kill_nodes(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_healthy(self, seconds: float = 15) -> None:
        """Every live node sees `cluster_state:ok`, and every live replica's link to its master is up."""

        def healthy() -> bool:
            live = self.live()
            return all(n.cluster_state() == "ok" for n in live) and not any(n.replica_waiting() for n in live)

        wait_until(healthy, seconds, "the private Redis Cluster to be healthy")

    def live(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.process is not None]

    def master_of(self, key: str) -> ClusterNode:
        """The live node that, by a live node's view, serves the slot of `key` as master."""
        with Redis(host=HOST, port=self.live()[0].port, socket_timeout=2) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no master serves the slot of {key!r}")

    def wait_promoted(self, key: str, dead: ClusterNode, seconds: float = 20) -> ClusterNode:
        """Wait until a live node has taken over `key`'s slot from `dead`, and the cluster is ok."""

        def promoted() -> bool:
            with contextlib.suppress(RedisError, StopIteration):
                return self.master_of(key) is not dead and all(n.cluster_state() == "ok" for n in self.live())
            return False

        wait_until(promoted, seconds, f"a replica to take over the slot of {key!r}")
        return self.master_of(key)

    def move_slot(self, key: str, target: ClusterNode) -> None:
        """Migrate `key`'s slot, with its keys, to `target`, as `redis-cli --cluster reshard` does."""
        source = self.master_of(key)
        with source.client() as src, target.client() as dst:
            slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
            source_id, target_id = (
                src.execute_command("CLUSTER", "MYID"),
                dst.execute_command("CLUSTER", "MYID"),
            )
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                src.execute_command("MIGRATE", HOST, target.port, "", 0, 5000, "KEYS", *keys)
            dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        for node in self.live():
            if node.is_master():
                with node.client() as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    def revive(self, node: ClusterNode) -> None:
        """Restart a killed node with its own nodes.conf: it rejoins as a replica of its successor."""
        node.start()
        wait_until(node.is_synced_replica, 30, f"the revived node {node.port} to be a synced replica")
        self.wait_healthy(seconds=30)

    def stop(self) -> None:
        self._kill_nodes()
