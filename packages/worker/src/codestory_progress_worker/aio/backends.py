"""Where an asyncio reporter's updates go: the `AsyncBackend` seam, and its two Redis implementations.

The same as the sync `backends` module, on redis-py's asyncio clients.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from codestory_progress_worker.backends import CLIENT_DEFAULTS, Receipt
from codestory_progress_worker.keys import ClusterKeys, StandaloneKeys, heartbeat_call, publish_call
from codestory_progress_worker.liveness import now_ms
from codestory_progress_worker.scripts import HEARTBEAT_SCRIPT, SDK_CLUSTER_PUBLISH_SCRIPT, SDK_PUBLISH_SCRIPT
from codestory_progress_worker.updates import DEFAULT_TTL_SECONDS


class AsyncBackend(Protocol):
    @property
    def requires_owner(self) -> bool:
        """True where each update also goes to its owner's channel (cluster mode)."""
        ...

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        """Store the snapshot and publish atomically, assigning the story's next `seq`."""
        ...

    async def revoke(self, story_id: UUID) -> int:
        """Tell every gateway to re-check the story's owner now; returns how many listeners heard it."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class AsyncHeartbeats(Protocol):
    """A backend that can keep a story's liveness key fresh; a story block beats only on one."""

    async def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        """Refresh the liveness key (value: now in epoch ms, PX `ttl_ms`) and answer whether a
        cancel was requested, in one round trip."""
        ...


class AsyncRedisBackend:
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

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        keys, args = publish_call(self._keys, story_id, body, self._ttl, cancel=True)
        seq, cancel = await self._script(keys=keys, args=args)
        return Receipt(int(seq), bool(cancel))

    async def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        keys, args = heartbeat_call(self._keys, story_id, now_ms(), ttl_ms)
        return bool(await self._beat(keys=keys, args=args))

    async def revoke(self, story_id: UUID) -> int:
        return int(await self._client.publish(self._keys.revocations, str(story_id)))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


class AsyncClusterBackend:
    """Redis Cluster: the script on the story's shard (SPUBLISH on its sharded channel), then the
    same body on the owner's sharded channel; revocations by SPUBLISH."""

    requires_owner = True

    def __init__(
        self,
        client: RedisCluster,
        *,
        prefix: str = "",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._script = client.register_script(SDK_CLUSTER_PUBLISH_SCRIPT)
        self._beat = client.register_script(HEARTBEAT_SCRIPT)
        self._keys = ClusterKeys(prefix)
        self._ttl = ttl_seconds
        self._owns_client = owns_client

    async def publish(self, story_id: UUID, owner: UUID | None, body: str) -> Receipt:
        if owner is None:
            raise ValueError("cluster mode needs the story's owner (the owner's channel)")
        await self._client.initialize()  # once: redis-py 8.1 fails concurrent first commands (#3935)
        keys, args = publish_call(self._keys, story_id, body, self._ttl, cancel=True)
        seq, stamped, cancel = await self._script(keys=keys, args=args)
        await self._client.spublish(self._keys.user_channel(owner), stamped)
        return Receipt(int(seq), bool(cancel))

    async def heartbeat(self, story_id: UUID, ttl_ms: int) -> bool:
        await self._client.initialize()
        keys, args = heartbeat_call(self._keys, story_id, now_ms(), ttl_ms)
        return bool(await self._beat(keys=keys, args=args))

    async def revoke(self, story_id: UUID) -> int:
        await self._client.initialize()
        return int(await self._client.spublish(self._keys.revocations, str(story_id)))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def async_backend_from_url(
    url: str, *, prefix: str, ttl_seconds: int, cluster: bool, **options: Any
) -> AsyncBackend:
    """A backend that owns its client, built from a `redis://`, `rediss://` or `unix://` URL."""
    options = {**CLIENT_DEFAULTS, **options}
    if cluster:
        client = RedisCluster.from_url(url, **options)
        return AsyncClusterBackend(client, prefix=prefix, ttl_seconds=ttl_seconds, owns_client=True)
    return AsyncRedisBackend(
        Redis.from_url(url, **options), prefix=prefix, ttl_seconds=ttl_seconds, owns_client=True
    )
