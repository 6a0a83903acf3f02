"""Where a sync reporter's updates go: the `Backend` seam, and its two Redis implementations.

A backend takes an update already checked and encoded (`Update.body()`), and does the Redis side
only: the publish script (and, in cluster mode, the owner's channel) and revocations. Another
backend (an in-memory one for a demo or a worker's own tests) satisfies the same Protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from redis import Redis
from redis.cluster import RedisCluster

from codestory_progress_worker.keys import ClusterKeys, StandaloneKeys, heartbeat_call, publish_call
from codestory_progress_worker.liveness import now_ms
from codestory_progress_worker.scripts import HEARTBEAT_SCRIPT, SDK_CLUSTER_PUBLISH_SCRIPT, SDK_PUBLISH_SCRIPT
from codestory_progress_worker.updates import DEFAULT_TTL_SECONDS

# A publish must not hang a worker forever on a Redis that went away; options passed win.
CLIENT_DEFAULTS: dict[str, Any] = {"socket_connect_timeout": 5.0, "socket_timeout": 5.0}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one publish answered: the seq assigned, and whether the story's cancel key exists. New
    fields come with defaults, so a backend that builds `Receipt(seq)` keeps working."""

    seq: int
    cancel_requested: bool = False


class Backend(Protocol):
    @property
    def requires_owner(self) -> bool:
        """True where each update also goes to its owner's channel (cluster mode)."""
        ...

    def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        """Store the snapshot and publish atomically, assigning the story's next `seq`."""
        ...

    def revoke(self, story_id: UUID) -> int:
        """Tell every gateway to re-check the story's owner now; returns how many listeners heard it."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Heartbeats(Protocol):
    """A backend that can keep a story's liveness key fresh; a story block beats only on one."""

    def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        """Refresh the liveness key (value: now in epoch ms, PX `ttl_ms`) and answer whether a
        cancel was requested, in one round trip."""
        ...


class RedisBackend:
    """Standalone Redis: the publish script, PUBLISH on the story's channel and on `revocations`."""

    requires_owner = False

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._script = client.register_script(SDK_PUBLISH_SCRIPT)
        self._beat = client.register_script(HEARTBEAT_SCRIPT)
        self._keys = StandaloneKeys(prefix)
        self._ttl = ttl_seconds
        self._owns_client = owns_client

    def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        keys, args = publish_call(self._keys, story_id, body, self._ttl, cancel=True)
        seq, cancel = self._script(keys=keys, args=args)
        return Receipt(int(seq), bool(cancel))

    def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        keys, args = heartbeat_call(self._keys, story_id, now_ms(), ttl_ms)
        return bool(self._beat(keys=keys, args=args))

    def revoke(self, story_id: UUID) -> int:
        return int(self._client.publish(self._keys.revocations, str(story_id)))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class ClusterBackend:
    """Redis Cluster: the script on the story's shard (SPUBLISH on its sharded channel), then the
    same body on the owner's sharded channel; revocations by SPUBLISH.

    `client` may be a function that builds the client: redis-py's sync cluster client connects in
    its constructor, and a reporter built while the cluster is down (at a worker's import) must not
    fail; it is then built on first use, once."""

    requires_owner = True

    def __init__(
        self,
        client: RedisCluster | Callable[[], RedisCluster],
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        owns_client: bool = False,
    ) -> None:
        self._build: Callable[[], RedisCluster] = (
            (lambda: client) if isinstance(client, RedisCluster) else client
        )
        self._client: RedisCluster | None = None
        self._script: Any = None
        self._beat: Any = None
        self._lock = threading.Lock()
        self._keys = ClusterKeys(prefix)
        self._ttl = ttl_seconds
        self._owns_client = owns_client

    def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        if owner is None:
            raise ValueError("cluster mode needs the story's owner (the owner's channel)")
        client, script = self._connected()
        keys, args = publish_call(self._keys, story_id, body, self._ttl, cancel=True)
        seq, stamped, cancel = script(keys=keys, args=args)
        client.spublish(self._keys.user_channel(owner), stamped)
        return Receipt(int(seq), bool(cancel))

    def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        self._connected()
        keys, args = heartbeat_call(self._keys, story_id, now_ms(), ttl_ms)
        return bool(self._beat(keys=keys, args=args))

    def revoke(self, story_id: UUID) -> int:
        client, _ = self._connected()
        return int(client.spublish(self._keys.revocations, str(story_id)))

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()

    def _connected(self) -> tuple[RedisCluster, Any]:
        with self._lock:
            if self._client is None:
                client = self._build()
                self._script = client.register_script(SDK_CLUSTER_PUBLISH_SCRIPT)
                self._beat = client.register_script(HEARTBEAT_SCRIPT)
                self._client = client
            return self._client, self._script


def backend_from_url(url: str, *, prefix: str, ttl_seconds: int, cluster: bool, **options: Any) -> Backend:
    """A backend that owns its client, built from a `redis://`, `rediss://` or `unix://` URL."""
    options = {**CLIENT_DEFAULTS, **options}
    if cluster:
        return ClusterBackend(
            lambda: RedisCluster.from_url(url, **options),
            prefix=prefix,
            ttl_seconds=ttl_seconds,
            owns_client=True,
        )
    return RedisBackend(
        Redis.from_url(url, **options), prefix=prefix, ttl_seconds=ttl_seconds, owns_client=True
    )
